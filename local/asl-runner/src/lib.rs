//! A local executor of Amazon States Language.

pub mod choice;
pub mod definition;
pub mod error;
pub mod intrinsic;
pub mod path;
pub mod template;

pub use definition::{LoadError, StateMachine};
pub use error::StatesError;
