//! image IO (todo)
