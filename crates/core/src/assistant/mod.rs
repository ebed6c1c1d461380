//! The AI receptionist.

pub mod llm;
pub mod when;
