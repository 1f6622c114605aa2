//! The enums A3 reads and stores, by number and by name, as `JsonStringEnumConverter` (registered in
//! `Program.cs:109`) reads them: a name (case-insensitive) or an integer (also undefined ones, which
//! C# casts through unchanged).

/// `MigrateCorrespondenceStatusExt` (`Models/Enums/MigrateCorrespondenceStatusExt.cs:6-80`).
pub(crate) const MIGRATE_STATUS: &[&str] = &[
    "Initialized",
    "ReadyForPublish",
    "Published",
    "Fetched",
    "Read",
    "Replied",
    "Confirmed",
    "PurgedByRecipient",
    "PurgedByAltinn",
    "Archived",
    "Reserved",
    "Failed",
    "AttachmentsDownloaded",
    "SoftDeletedByRecipient",
    "RestoredByRecipient",
];

/// Core `CorrespondenceStatus` (`Core/Models/Enums/CorrespondenceStatus.cs`): 0..=12, same numbers
/// as the Ext enum, which the mapper casts (`MigrateCorrespondenceMapper.cs:260`).
const CORE_STATUS_COUNT: i64 = 13;

/// `NotificationChannelExt` (`Models/Enums/NotificationChannelExt.cs:6-32`), cast to the core enum
/// with the same numbers (`MigrateCorrespondenceMapper.cs:316`).
pub(crate) const NOTIFICATION_CHANNEL: &[&str] =
    &["Email", "Sms", "EmailPreferred", "SmsPreferred", "EmailAndSms"];

/// `ReferenceTypeExt` / core `ReferenceType` (`Core/Models/Enums/ReferenceType.cs`).
pub(crate) const REFERENCE_TYPE: &[&str] = &[
    "Generic",
    "AltinnAppInstance",
    "AltinnBrokerFileTransfer",
    "DialogportenDialogId",
    "DialogportenProcessId",
    "DialogportenTransmissionId",
    "DialogportenTransmissionType",
];

/// `ReferenceType.DialogportenDialogId`.
pub(crate) const DIALOG_ID_REFERENCE: i64 = 3;
/// `ReferenceTypeExt.DialogportenTransmissionId`.
pub(crate) const TRANSMISSION_ID_REFERENCE: i64 = 5;
/// `ReferenceTypeExt.DialogportenTransmissionType` (`API/Models/Enums/ReferenceTypeExt.cs`).
pub(crate) const TRANSMISSION_TYPE_REFERENCE: i64 = 6;

/// `TransmissionTypeExt` (`API/Models/Enums/TransmissionTypeExt.cs`): Information 1 … Correction 8.
const TRANSMISSION_TYPES: [&str; 8] =
    ["Information", "Acceptance", "Rejection", "Request", "Alert", "Decision", "Submission", "Correction"];

/// `Enum.TryParse<TransmissionTypeExt>(value, ignoreCase: true, out var parsed) && Enum.IsDefined(parsed)`
/// (`BaseCorrespondenceExt.cs:178-179`): a name in any case or a defined number, spaces around allowed.
pub(crate) fn is_transmission_type(value: &str) -> bool {
    let v = value.trim();
    match v.parse::<i64>() {
        Ok(n) => (1..=8).contains(&n),
        Err(_) => TRANSMISSION_TYPES.iter().any(|t| t.eq_ignore_ascii_case(v)),
    }
}

/// Status numbers used by the rules.
pub(crate) mod status {
    /// `Published`.
    pub(crate) const PUBLISHED: i64 = 2;
    /// `Read`.
    pub(crate) const READ: i64 = 4;
    /// `Confirmed`.
    pub(crate) const CONFIRMED: i64 = 6;
    /// `PurgedByRecipient`.
    pub(crate) const PURGED_BY_RECIPIENT: i64 = 7;
    /// `PurgedByAltinn`.
    pub(crate) const PURGED_BY_ALTINN: i64 = 8;
    /// `Archived`.
    pub(crate) const ARCHIVED: i64 = 9;
    /// `SoftDeletedByRecipient` (Ext only).
    pub(crate) const SOFT_DELETED: i64 = 13;
    /// `RestoredByRecipient` (Ext only).
    pub(crate) const RESTORED: i64 = 14;
}

/// `CorrespondenceDeleteEventType` (`Core/Models/Enums/CorrespondenceDeleteEventType.cs`) for a
/// delete-like Ext status (`MigrateCorrespondenceMapper.cs:193-208`), else `None`.
pub(crate) fn delete_event_type(ext_status: i64) -> Option<&'static str> {
    match ext_status {
        status::SOFT_DELETED => Some("SoftDeletedByRecipient"),
        status::RESTORED => Some("RestoredByRecipient"),
        status::PURGED_BY_RECIPIENT => Some("HardDeletedByRecipient"),
        status::PURGED_BY_ALTINN => Some("HardDeletedByServiceOwner"),
        _ => None,
    }
}

/// Reads an enum value: a JSON integer (any, as C# casts), or a string that is a member name
/// (ASCII case-insensitive) or an integer.
pub(crate) fn read(names: &[&str], v: &serde_json::Value) -> Option<i64> {
    match v {
        serde_json::Value::Number(n) => n.as_i64().filter(|n| i32::try_from(*n).is_ok()),
        serde_json::Value::String(s) => {
            let t = s.trim();
            if let Ok(n) = t.parse::<i64>() {
                return i32::try_from(n).ok().map(i64::from);
            }
            names.iter().position(|n| n.eq_ignore_ascii_case(t)).and_then(|i| i64::try_from(i).ok())
        }
        _ => None,
    }
}

/// The C# `ToString()` of an enum value: the member name, or the number when undefined.
pub(crate) fn name(names: &[&str], v: i64) -> String {
    usize::try_from(v).ok().and_then(|i| names.get(i)).map_or_else(|| v.to_string(), |s| (*s).to_string())
}

/// The name A3 stores for a status row: the core `CorrespondenceStatus` name of the cast number.
pub(crate) fn core_status_name(v: i64) -> String {
    if (0..CORE_STATUS_COUNT).contains(&v) { name(MIGRATE_STATUS, v) } else { v.to_string() }
}

/// The core status number for a name (Ext or core spelling), for the public key helpers.
pub(crate) fn status_number(name: &str) -> Option<i64> {
    read(MIGRATE_STATUS, &serde_json::Value::String(name.to_string()))
}
