//! DLPack (todo)
