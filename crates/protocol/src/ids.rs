//! Ids: UUIDv7 strings made where the thing is created (so a console can create a message or a
//! booking offline), each its own type.

/// Why an id from outside was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("an id is 1 to 128 characters, none of them control characters")]
pub struct InvalidId;

/// What an id from outside may be: 1–128 characters, no control characters.
pub fn check(text: &str) -> Result<&str, InvalidId> {
    let ok = !text.is_empty() && text.len() <= 128 && !text.chars().any(char::is_control);
    if ok {
        Ok(text)
    } else {
        Err(InvalidId)
    }
}

ids! {
    BusinessId;
    StaffId;
    InvitationId;
    CustomerId;
    ServiceId;
    CannedResponseId;
    ConversationId;
    MessageId;
    NoteId;
    ScheduleExceptionId;
    BookingId;
    CalendarFeedId;
    /// An outside change of one of our Google Calendar events, waiting for a decision.
    CalendarTaskId;
    AuditEntryId;
    /// A WhatsApp template recorded for the business.
    TemplateId;
    /// A console device (made once per installation; bound to one staff member's sign-in).
    ClientId;
    /// A kept file: a customer's photo, voice note or document, a call recording, or one staff uploaded.
    MediaId;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_from_outside_are_checked() {
        assert!(serde_json::from_str::<CustomerId>("\"0190c0de-0000-7000-8000-000000000001\"").is_ok());
        for bad in ["\"\"", "\"a\\u0000b\"", "\"line\\nbreak\""] {
            assert!(serde_json::from_str::<CustomerId>(bad).is_err(), "{bad} should be refused");
        }
        assert!(serde_json::from_str::<CustomerId>(&format!("\"{}\"", "x".repeat(129))).is_err());
        let id = BookingId::new();
        assert_eq!(serde_json::to_string(&id).unwrap(), format!("\"{id}\""));
        assert_eq!(id.len(), 36, "a UUID");
    }
}
