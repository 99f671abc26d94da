//! Descriptors read from shared memory are untrusted: every malformed field is its own error,
//! never a panic.

use tensorbus_pool::descriptor::kind;
use tensorbus_pool::{Descriptor, DescriptorError, Namespace};
use tensorbus_tensor::{DType, Encoding, Payload, PayloadError, PayloadKind, PayloadMut, Tensor};
use tensorbus_testkit::{TempNs, TENSOR_CLASSES};

/// A valid sent 2x3 float32 tensor and its descriptor.
fn sent(ns: &Namespace) -> (Tensor, Descriptor) {
    let ten = Tensor::from_bytes(ns, DType::F32, &[2, 3], &[0; 24]).unwrap();
    let d = ten.descriptor();
    (ten, d)
}

fn resolve(ns: &Namespace, d: &Descriptor) -> PayloadError {
    Payload::from_descriptor(ns, d).unwrap_err()
}

#[test]
fn unknown_kind_and_dtype_codes_rejected() {
    let t = TempNs::with_classes("codes", TENSOR_CLASSES);
    let ns = t.open();
    let (_ten, d) = sent(&ns);
    for k in [kind::EMPTY, kind::INLINE, kind::MSGPACK, 200] {
        assert!(matches!(resolve(&ns, &Descriptor { kind: k, ..d }), PayloadError::BadKind { .. }), "kind {k}");
    }
    for c in [0u8, 14, 255] {
        assert!(matches!(resolve(&ns, &Descriptor { dtype: c, ..d }), PayloadError::BadDType { code } if code == c));
    }
}

#[test]
fn zero_dims_rejected() {
    let t = TempNs::with_classes("zero", TENSOR_CLASSES);
    let ns = t.open();
    let (_ten, d) = sent(&ns);
    let mut bad = d;
    bad.shape[1] = 0;
    assert!(matches!(resolve(&ns, &bad), PayloadError::ZeroDim { axis: 1 }));
    assert!(matches!(resolve(&ns, &Descriptor { ndim: 0, ..d }), PayloadError::BadNdim { ndim: 0, .. }));
    let e = PayloadMut::new(&ns, PayloadKind::Tensor, DType::U8, &[3, 0], 0).unwrap_err();
    assert!(matches!(e, PayloadError::ZeroDim { axis: 1 }));
    assert!(matches!(PayloadMut::new(&ns, PayloadKind::Tensor, DType::U8, &[], 0).unwrap_err(), PayloadError::BadNdim { .. }));
}

#[test]
fn more_than_eight_dims_rejected() {
    let t = TempNs::with_classes("ndim", TENSOR_CLASSES);
    let ns = t.open();
    let (_ten, d) = sent(&ns);
    assert!(matches!(resolve(&ns, &Descriptor { ndim: 9, ..d }), PayloadError::BadNdim { ndim: 9, max: 8, .. }));
    let e = PayloadMut::new(&ns, PayloadKind::Tensor, DType::U8, &[1; 9], 0).unwrap_err();
    assert!(matches!(e, PayloadError::BadNdim { ndim: 9, .. }));
    // An image has 2 or 3 dims.
    let e = PayloadMut::new(&ns, PayloadKind::Image, DType::U8, &[1, 2, 3, 4], Encoding::Rgb8.code()).unwrap_err();
    assert!(matches!(e, PayloadError::BadNdim { .. }));
}

#[test]
fn product_overflow_rejected() {
    let t = TempNs::with_classes("overflow", TENSOR_CLASSES);
    let ns = t.open();
    let (_ten, d) = sent(&ns);
    let bad = Descriptor { ndim: 6, shape: [u32::MAX; 6], ..d };
    assert!(matches!(resolve(&ns, &bad), PayloadError::Overflow { .. }));
    let e = PayloadMut::new(&ns, PayloadKind::Tensor, DType::F64, &[1 << 31, 1 << 31, 1 << 3], 0).unwrap_err();
    assert!(matches!(e, PayloadError::Overflow { .. }), "{e}");
    let e = PayloadMut::new(&ns, PayloadKind::Tensor, DType::U8, &[1 << 33], 0).unwrap_err();
    assert!(matches!(e, PayloadError::DimTooLarge { axis: 0, .. }), "{e}");
}

#[test]
fn len_mismatch_rejected() {
    let t = TempNs::with_classes("len", TENSOR_CLASSES);
    let ns = t.open();
    let (_ten, d) = sent(&ns);
    assert!(matches!(resolve(&ns, &Descriptor { len: 20, ..d }), PayloadError::LenMismatch { expected: 24, found: 20 }));
    let mut bigger = d;
    bigger.shape[0] = 3; // 36 bytes but len says 24
    assert!(matches!(resolve(&ns, &bigger), PayloadError::LenMismatch { expected: 36, found: 24 }));
    // A length past the slot is the pool's error.
    assert!(matches!(resolve(&ns, &Descriptor { len: 1 << 40, ..d }), PayloadError::Descriptor(DescriptorError::BadLength { .. })));
    let mut m = PayloadMut::new(&ns, PayloadKind::Tensor, DType::U8, &[4], 0).unwrap();
    assert!(matches!(m.copy_from(&[1, 2, 3]), Err(PayloadError::LenMismatch { expected: 4, found: 3 })));
}

#[test]
fn too_large_for_the_biggest_class() {
    let t = TempNs::with_classes("large", TENSOR_CLASSES);
    let ns = t.open();
    let e = PayloadMut::new(&ns, PayloadKind::Tensor, DType::U8, &[(1 << 20) + 1], 0).unwrap_err();
    assert!(matches!(e, PayloadError::TooLarge { len, max } if len == (1 << 20) + 1 && max == 1 << 20), "{e}");
}

#[test]
fn wrong_dtype_or_channels_for_encoding_rejected() {
    let t = TempNs::with_classes("encoding", TENSOR_CLASSES);
    let ns = t.open();
    let e = PayloadMut::new(&ns, PayloadKind::Image, DType::F32, &[2, 2, 3], Encoding::Rgb8.code()).unwrap_err();
    assert!(matches!(e, PayloadError::EncodingMismatch { encoding: Encoding::Rgb8, dtype: DType::F32, .. }), "{e}");
    let e = PayloadMut::new(&ns, PayloadKind::Image, DType::U8, &[2, 2, 4], Encoding::Rgb8.code()).unwrap_err();
    assert!(matches!(e, PayloadError::EncodingMismatch { .. }), "{e}");
    let e = PayloadMut::new(&ns, PayloadKind::Image, DType::U8, &[2, 2], 77).unwrap_err();
    assert!(matches!(e, PayloadError::BadAux { aux: 77, .. }), "{e}");
    // The same checks on a received descriptor.
    let img = tensorbus_tensor::Image::from_bytes(&ns, 2, 2, Encoding::Rgb8, &[0; 12]).unwrap();
    let d = img.descriptor();
    assert!(matches!(resolve(&ns, &Descriptor { aux: Encoding::Mono16.code(), ..d }), PayloadError::EncodingMismatch { .. }));
    assert!(matches!(resolve(&ns, &Descriptor { aux: 0, ..d }), PayloadError::BadAux { aux: 0, .. }));
    assert!(matches!(resolve(&ns, &Descriptor { dtype: DType::U16.code(), len: 24, ..d }), PayloadError::EncodingMismatch { .. }));
}

#[test]
fn aux_must_be_zero_for_tensors() {
    let t = TempNs::with_classes("aux", TENSOR_CLASSES);
    let ns = t.open();
    let (_ten, d) = sent(&ns);
    assert!(matches!(resolve(&ns, &Descriptor { aux: 3, ..d }), PayloadError::BadAux { aux: 3, .. }));
}

#[test]
fn wrong_kind_for_a_typed_wrapper() {
    let t = TempNs::with_classes("kind", TENSOR_CLASSES);
    let ns = t.open();
    let (_ten, d) = sent(&ns);
    assert!(matches!(tensorbus_tensor::Image::from_descriptor(&ns, &d), Err(PayloadError::WrongKind { expected: "image", found: "tensor" })));
}

#[test]
fn stale_descriptor_is_the_pools_error() {
    let t = TempNs::with_classes("stale", TENSOR_CLASSES);
    let ns = t.open();
    let (ten, d) = sent(&ns);
    drop(ten);
    assert!(matches!(resolve(&ns, &d), PayloadError::Descriptor(DescriptorError::Stale { .. })));
}

#[test]
fn bad_frame_ids_rejected() {
    let t = TempNs::with_classes("frame", TENSOR_CLASSES);
    let ns = t.open();
    let mut m = PayloadMut::new(&ns, PayloadKind::Tensor, DType::U8, &[4], 0).unwrap();
    assert!(matches!(m.set_frame_id(&"x".repeat(32)), Err(PayloadError::BadFrameId { .. })));
    assert!(m.set_frame_id(&"é".repeat(15)).is_ok(), "30 bytes of UTF-8 fit");
    assert_eq!(m.freeze().frame_id(), "é".repeat(15));
}

#[test]
fn fuzzed_descriptors_never_panic() {
    let t = TempNs::with_classes("fuzz", TENSOR_CLASSES);
    let ns = t.open();
    let (_ten, d) = sent(&ns);
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let words = d.to_words();
    for _ in 0..20_000 {
        let mut w = words;
        for _ in 0..2 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let i = (x % 8) as usize;
            w[i] ^= 1u64 << ((x >> 8) % 64);
        }
        let _ = Payload::from_descriptor(&ns, &Descriptor::from_words(w));
    }
}
