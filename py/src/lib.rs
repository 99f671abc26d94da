//! `tensorbus._native`: the PyO3 bindings. One binding file per core module (payload, image,
//! points, tensor, dlpack, topic, namespace); the Python package `tensorbus`
//! (py/python/tensorbus) re-exports the public names.

// `make lint` checks that errors.rs names every variant of the core error enums (nightly lint).
#![cfg_attr(tensorbus_exhaustive, feature(non_exhaustive_omitted_patterns_lint))]

use pyo3::prelude::*;

mod aio;
mod array;
mod bridge;
mod cli;
mod convert;
mod cuda;
mod cuda_payload;
mod device;
mod dlpack;
mod errors;
mod fill;
mod image;
mod imports;
mod message;
mod namespace;
mod node;
mod payload;
mod payload_methods;
mod points;
mod record;
mod ros2;
mod stdmsg;
mod tensor;
mod topic;
mod waitset;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    // Scheduler messages (misses, tick errors) to stderr unless a logger is already set.
    tensorbus::logging::init_default();
    m.add_function(wrap_pyfunction!(namespace::pool_stats, m)?)?;
    m.add_function(wrap_pyfunction!(namespace::reap, m)?)?;
    m.add_function(wrap_pyfunction!(namespace::use_namespace, m)?)?;
    m.add_function(wrap_pyfunction!(namespace::_shutdown, m)?)?;
    m.add_function(wrap_pyfunction!(namespace::_after_fork, m)?)?;
    m.add_class::<payload::PyPayload>()?;
    m.add_class::<image::PyImage>()?;
    m.add_class::<image::PyDepthImage>()?;
    m.add_class::<points::PyPointCloud>()?;
    m.add_class::<tensor::PyTensor>()?;
    m.add_class::<topic::PyTopic>()?;
    m.add_class::<node::PyScheduler>()?;
    m.add_class::<waitset::PyWaitSet>()?;
    m.add_function(wrap_pyfunction!(waitset::wait, m)?)?;
    m.add_function(wrap_pyfunction!(aio::_watch, m)?)?;
    m.add_function(wrap_pyfunction!(aio::_unwatch, m)?)?;
    m.add_function(wrap_pyfunction!(aio::_aio_shutdown, m)?)?;
    m.add_class::<record::PyRecorder>()?;
    m.add_class::<bridge::PyBridge>()?;
    m.add_class::<record::PyMcapReader>()?;
    m.add_function(wrap_pyfunction!(record::_replay, m)?)?;
    m.add_function(wrap_pyfunction!(record::_record_info, m)?)?;
    m.add_function(wrap_pyfunction!(ros2::_ros2_encode, m)?)?;
    m.add_function(wrap_pyfunction!(ros2::_ros2_decode, m)?)?;
    m.add_function(wrap_pyfunction!(ros2::_ros2_twist_encode, m)?)?;
    m.add_function(wrap_pyfunction!(ros2::_ros2_twist_decode, m)?)?;
    m.add_function(wrap_pyfunction!(ros2::_ros2_type_hash, m)?)?;
    m.add_function(wrap_pyfunction!(node::budget_remaining, m)?)?;
    m.add_function(wrap_pyfunction!(message::pod_type_hash, m)?)?;
    stdmsg::add_classes(m)?;
    m.add_function(wrap_pyfunction!(message::packb, m)?)?;
    m.add_function(wrap_pyfunction!(message::unpackb, m)?)?;
    m.add_function(wrap_pyfunction!(cli::cli_main, m)?)?;
    cuda::register(m)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
