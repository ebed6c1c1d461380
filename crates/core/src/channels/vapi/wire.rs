//! Vapi's server messages as written on the wire (https://docs.vapi.ai/server-url/events): the
//! envelope `{"message": {…}}` whose `type` says what happened — tool calls to answer, the call's
//! status, its end-of-call report, and many more this service has nothing to do with — and the
//! answers Vapi expects back.
//!
//! Whatever Vapi may leave out is optional or defaulted, unknown fields are ignored, and a
//! message of a type not named here is [`ServerMessage::Other`]. Tool arguments stay JSON: they
//! are the assistant's tools' input, not Vapi's.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::channels::wire::{items, optional};

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Envelope {
    pub message: Option<ServerMessage>,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum ServerMessage {
    /// The assistant calls tools (functions) and waits for their results.
    ToolCalls(ToolCalls),
    /// The older, one-function form of a tool call.
    FunctionCall(FunctionCallMessage),
    StatusUpdate(StatusUpdate),
    EndOfCallReport(EndOfCallReport),
    /// `assistant-request`, `conversation-update`, `transcript`, `hang`, … : acknowledged.
    #[serde(other)]
    Other,
}

/// The call a message is about.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Call {
    pub id: Option<String>,
    /// `inboundPhoneCall`, `outboundPhoneCall`, `webCall`.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    #[serde(deserialize_with = "optional")]
    pub customer: Option<Caller>,
    pub duration_seconds: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Caller {
    pub number: Option<String>,
    pub name: Option<String>,
}

/// The caller's number: the call's customer's, else the message's.
pub fn caller_number<'a>(call: &'a Option<Call>, customer: &'a Option<Caller>) -> Option<&'a str> {
    call.as_ref().and_then(|c| c.customer.as_ref()?.number.as_deref()).or(customer.as_ref().and_then(|c| c.number.as_deref()))
}

impl Call {
    /// The caller's name, when the platform knows it.
    pub fn caller_name(&self) -> Option<&str> {
        self.customer.as_ref()?.name.as_deref()
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ToolCalls {
    pub call: Option<Call>,
    pub customer: Option<Caller>,
    #[serde(deserialize_with = "optional")]
    pub tool_call_list: Option<Vec<ToolCall>>,
    /// The older form: each tool with its call.
    #[serde(deserialize_with = "items")]
    pub tool_with_tool_call_list: Vec<ToolWithToolCall>,
}

impl ToolCalls {
    /// Each call to answer: its id, the tool's name and its arguments (as given).
    pub fn calls(&self) -> Vec<(&str, &str, &Value)> {
        match &self.tool_call_list {
            Some(list) => list.iter().map(|c| (c.id.as_str(), c.function.name.as_str(), &c.function.arguments)).collect(),
            None => self
                .tool_with_tool_call_list
                .iter()
                .map(|t| {
                    let c = &t.tool_call;
                    let name = t.function.as_ref().and_then(|f| f.name.as_deref()).unwrap_or(&c.function.name);
                    (c.id.as_str(), name, &c.function.arguments)
                })
                .collect(),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ToolCall {
    pub id: String,
    pub function: FunctionCall,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct FunctionCall {
    pub name: String,
    /// An object, or the object as JSON text.
    pub arguments: Value,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ToolWithToolCall {
    #[serde(deserialize_with = "optional")]
    pub function: Option<ToolName>,
    pub tool_call: ToolCall,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ToolName {
    pub name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct FunctionCallMessage {
    pub call: Option<Call>,
    pub customer: Option<Caller>,
    pub function_call: LegacyFunctionCall,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct LegacyFunctionCall {
    pub name: String,
    pub parameters: Value,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct StatusUpdate {
    pub call: Option<Call>,
    pub customer: Option<Caller>,
    #[serde(deserialize_with = "optional")]
    pub status: Option<CallStatus>,
    pub ended_reason: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CallStatus {
    Scheduled,
    Queued,
    Ringing,
    InProgress,
    Forwarding,
    Ended,
    #[serde(other)]
    Other,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct EndOfCallReport {
    pub call: Option<Call>,
    pub customer: Option<Caller>,
    pub ended_reason: Option<String>,
    pub duration_seconds: Option<f64>,
    #[serde(deserialize_with = "optional")]
    pub artifact: Option<Artifact>,
    #[serde(deserialize_with = "optional")]
    pub analysis: Option<Analysis>,
    /// Older reports carry these at the top, not in `artifact` and `analysis`.
    pub transcript: Option<String>,
    pub summary: Option<String>,
    pub recording_url: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Artifact {
    pub transcript: Option<String>,
    pub recording_url: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Analysis {
    pub summary: Option<String>,
    pub success_evaluation: Option<Value>,
}

/// What Vapi is answered.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Answer {
    /// Results of `tool-calls`, by call id.
    ToolResults { results: Vec<ToolResult> },
    /// The result of a `function-call`.
    FunctionResult { result: String },
    /// Nothing to say.
    Ack {},
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolResult {
    pub tool_call_id: String,
    /// The tool's JSON answer, as text.
    pub result: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn both_forms_of_tool_calls_are_read_and_unknown_messages_acknowledged() {
        let current: Envelope = serde_json::from_value(json!({"message": {"type": "tool-calls", "toolCallList": [
            {"id": "tc1", "type": "function", "function": {"name": "list_services", "arguments": {}}}]}})).unwrap();
        let Some(ServerMessage::ToolCalls(calls)) = current.message else { panic!() };
        assert_eq!(calls.calls(), vec![("tc1", "list_services", &json!({}))]);
        let older: Envelope = serde_json::from_value(json!({"message": {"type": "tool-calls", "toolWithToolCallList": [
            {"function": {"name": "book"}, "toolCall": {"id": "tc3", "function": {"arguments": "{}"}}}]}})).unwrap();
        let Some(ServerMessage::ToolCalls(calls)) = older.message else { panic!() };
        assert_eq!(calls.calls(), vec![("tc3", "book", &json!("{}"))]);
        let other: Envelope = serde_json::from_value(json!({"message": {"type": "speech-update", "status": "started"}})).unwrap();
        assert!(matches!(other.message, Some(ServerMessage::Other)));
        assert_eq!(serde_json::to_value(Answer::Ack {}).unwrap(), json!({}));
    }
}
