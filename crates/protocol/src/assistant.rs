//! How the AI assistant behaves for a business.

use crate::patch;

wire! {
    /// How the assistant behaves for a business (`GET|PATCH /v1/assistant`).
    #[derive(PartialEq)]
    pub struct AssistantSettings {
        /// `false`: every new conversation waits for a person.
        pub enabled: bool,
        /// Who the assistant is, e.g. "Mia, the friendly receptionist of Bloom Hair Studio".
        pub persona: String,
        /// Extra instructions from the owner.
        pub instructions: String,
        /// Facts and answers to common questions (address, parking, prices policy…).
        pub facts: String,
        /// Language to answer in, e.g. `en`.
        pub language: String,
        /// Overrides the service's default model.
        pub model: Option<String>,
        /// Minutes without activity after which a person's conversation goes back to the assistant
        /// (0: never).
        pub handback_idle_minutes: u32,
    }
}

request! {
    #[derive(Default)]
    pub struct UpdateAssistantSettings {
        pub enabled: Option<bool>,
        pub persona: Option<String>,
        pub instructions: Option<String>,
        pub facts: Option<String>,
        pub language: Option<String>,
        #[serde(default, deserialize_with = "patch::field")]
        #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
        pub model: Option<Option<String>>,
        pub handback_idle_minutes: Option<u32>,
    }
}
