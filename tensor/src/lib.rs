//! tensorbus-tensor: typed payloads in tensorbus pool slots, and their zero-copy export.
//!
//! - [`dtype`]: [`DType`], its stable descriptor code, NumPy names and DLPack triples;
//! - [`encoding`]: image pixel [`Encoding`]s (`rgb8`, `mono16`, ...), inferred from arrays;
//! - [`payload`]: the common core — validated [`PayloadMeta`], the writable loan
//!   [`PayloadMut`] and the shared read-only [`Payload`], to and from [`Descriptor`]s;
//! - typed wrappers, each with a writable loan: [`Image`]/[`ImageMut`],
//!   [`DepthImage`]/[`DepthImageMut`], [`PointCloud`]/[`PointCloudMut`], [`Tensor`]/[`TensorMut`];
//! - [`dlpack`]: the DLPack C ABI, export of managed tensors that own a payload hold, and
//!   validation of foreign tensors;
//! - [`imageio`]: PNG/JPEG files to and from pool images.
//!
//! The life of a frame: loan a slot (`ImageMut::new`, no copy) or copy once into one
//! (`Image::from_bytes`), fill it in place, `freeze`, send the 64-byte descriptor. A receiver
//! turns the descriptor back into an `Image` with `Image::from_descriptor`, which validates
//! every field read from shared memory and takes a hold on the slot; the data pointer is the
//! slot itself. The slot is freed when the last hold in any process is dropped.
//!
//! ```
//! use tensorbus_pool::{Namespace, PoolConfig};
//! use tensorbus_tensor::{Encoding, Image, ImageMut};
//! let dir = std::env::temp_dir().join(format!("tb-doc-lib-{}", std::process::id()));
//! let ns = Namespace::open_dir(&dir, PoolConfig::parse("1Mx4").unwrap()).unwrap();
//! let mut frame = ImageMut::new(&ns, 480, 640, Encoding::Rgb8).unwrap();
//! frame.data_mut().fill(128);                  // the camera writes in place
//! frame.set_timestamp_ns(1_700_000_000_000_000_000);
//! let sent = frame.freeze();
//! let d = sent.descriptor();                   // what travels through the ring
//! let recv = Image::from_descriptor(&ns, &d).unwrap();
//! assert_eq!(recv.as_ptr(), sent.as_ptr());    // same bytes, no copy
//! assert_eq!(recv.shape(), &[480, 640, 3]);
//! # drop((sent, recv, ns)); std::fs::remove_dir_all(dir).ok();
//! ```

#[macro_use]
mod macros;

pub mod depth;
mod depth_unit;
pub mod dlpack;
pub mod dtype;
pub mod encoding;
pub mod error;
pub mod image;
pub mod imageio;
pub mod payload;
mod point_fields;
pub mod points;
pub mod tensor;

pub use depth::{DepthImage, DepthImageMut, DepthUnit};
pub use dtype::{DType, Element, ParseDTypeError};
pub use encoding::{Encoding, ParseEncodingError};
pub use error::{DLPackError, Error, ImageIoError, PayloadError};
pub use image::{Image, ImageMut};
pub use payload::{Payload, PayloadKind, PayloadMeta, PayloadMut, MAX_FRAME_ID};
pub use points::{PointCloud, PointCloudMut, PointFields};
pub use tensor::{Tensor, TensorMut};
pub use tensorbus_pool::Descriptor;
