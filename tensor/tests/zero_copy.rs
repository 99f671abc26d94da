//! Zero-copy and hold lifetimes: the payload pointer is the slot pointer; a slot stays held
//! until the last clone, view or DLPack export is gone.

use tensorbus_pool::Namespace;
use tensorbus_tensor::{DType, DepthImageMut, DepthUnit, Encoding, Image, ImageMut, Payload, PointCloudMut, PointFields, TensorMut};
use tensorbus_testkit::{TempNs, TENSOR_CLASSES};

/// Slots in use in the namespace.
fn used(ns: &Namespace) -> u32 {
    ns.stats().used_slots()
}

#[test]
fn payload_pointer_is_the_slot_pointer() {
    let t = TempNs::with_classes("ptr", TENSOR_CLASSES);
    let ns = t.open();
    let mut m = ImageMut::new(&ns, 480, 640, Encoding::Rgb8).unwrap();
    let loan_ptr = m.as_mut_ptr() as *const u8;
    assert_eq!(loan_ptr, m.payload().slot().as_ptr());
    assert_eq!(loan_ptr as usize % 256, 0, "256-byte aligned");
    // Frozen, the same slot is read through the pool's read-only alias: another address, the
    // same pages (the byte written through the loan shows there).
    let ro_ptr = m.frozen_ptr();
    assert_ne!(ro_ptr, loan_ptr);
    assert_eq!(ro_ptr as usize % 256, 0, "256-byte aligned");
    m.data_mut()[0] = 42;
    let img = m.freeze();
    assert_eq!(img.as_ptr(), ro_ptr);
    assert_eq!(img.payload().slot().as_ptr(), ro_ptr);
    let recv = Image::from_descriptor(&ns, &img.descriptor()).unwrap();
    assert_eq!(recv.as_ptr(), ro_ptr);
    assert_eq!(recv.data()[0], 42);
    assert_eq!(recv.as_tensor().as_ptr(), ro_ptr);
    assert_eq!(recv.data().as_ptr(), ro_ptr);

    let d = DepthImageMut::new(&ns, 4, 4, DepthUnit::Metres).unwrap();
    let p = d.frozen_ptr();
    assert_eq!(d.freeze().as_ptr(), p);
    let pc = PointCloudMut::new(&ns, 4, PointFields::Xyzi).unwrap();
    let p = pc.frozen_ptr();
    assert_eq!(pc.freeze().as_ptr(), p);
    let ten = TensorMut::new(&ns, DType::BF16, &[4, 4]).unwrap();
    let p = ten.frozen_ptr();
    assert_eq!(ten.freeze().as_ptr(), p);
}

#[test]
fn clones_keep_the_slot_until_the_last_is_dropped() {
    let t = TempNs::with_classes("clones", TENSOR_CLASSES);
    let ns = t.open();
    assert_eq!(used(&ns), 0);
    let m = ImageMut::new(&ns, 2, 2, Encoding::Mono8).unwrap();
    assert_eq!(used(&ns), 1);
    let img = m.freeze();
    let a = img.clone();
    let b = img.payload().clone();
    let view = img.as_tensor();
    let recv = Payload::from_descriptor(&ns, &img.descriptor()).unwrap();
    drop(img);
    assert_eq!(used(&ns), 1);
    drop(a);
    drop(b);
    drop(recv);
    assert_eq!(used(&ns), 1, "the tensor view still holds the slot");
    drop(view);
    assert_eq!(used(&ns), 0);
}

#[test]
fn abandoned_loan_returns_the_slot() {
    let t = TempNs::with_classes("abandon", TENSOR_CLASSES);
    let ns = t.open();
    let m = TensorMut::new(&ns, DType::U8, &[16]).unwrap();
    assert_eq!(used(&ns), 1);
    drop(m);
    assert_eq!(used(&ns), 0);
}

#[test]
fn dlpack_export_holds_the_slot_until_its_deleter_runs() {
    let t = TempNs::with_classes("dlpack", TENSOR_CLASSES);
    let ns = t.open();
    let img = Image::from_bytes(&ns, 2, 3, Encoding::Rgb8, &[5; 18]).unwrap();
    let v = img.payload().to_dlpack_versioned();
    let l = img.payload().to_dlpack();
    let ptr = img.as_ptr();
    drop(img);
    assert_eq!(used(&ns), 1);
    // SAFETY: both exports are alive until their deleters run below.
    unsafe {
        let vt = &v.as_ref().dl_tensor;
        assert_eq!(vt.data as *const u8, ptr, "the export points at the slot");
        assert_eq!(std::slice::from_raw_parts(vt.shape, 3), &[2, 3, 3]);
        assert_eq!(v.as_ref().flags & tensorbus_tensor::dlpack::DLPACK_FLAG_BITMASK_READ_ONLY, 1);
        (v.as_ref().deleter.unwrap())(v.as_ptr());
        assert_eq!(used(&ns), 1);
        let lp = l.as_ptr() as usize;
        std::thread::spawn(move || {
            let l = lp as *mut tensorbus_tensor::dlpack::DLManagedTensor;
            ((*l).deleter.unwrap())(l)
        })
        .join()
        .unwrap();
    }
    assert_eq!(used(&ns), 0);
}
