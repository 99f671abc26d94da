//! tensorbus facade
