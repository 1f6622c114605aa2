//! What A3 would refuse, checked before anything is sent: a record that breaks one of A3's rules is
//! rejected with every reason at once, instead of being answered 400 (or worse, 500) item by item.
//!
//! Each limit names its rule in `docs/altinn3-contract.md`. Lengths are counted as A3 counts them:
//! .NET strings are UTF-16, so `StringLength(255)` means 255 UTF-16 code units, not characters.

use crate::a2::{A2Attachment, A2Correspondence, A2EventBody};
use crate::a3::model::{ForwardingEvent, ReferenceType};

/// Languages A3 accepts (case-insensitively, COR-8).
pub const LANGUAGES: [&str; 3] = ["nb", "nn", "en"];

/// A3's `TransmissionTypeExt`, numbered 1-8: the values a `DialogportenTransmissionType` reference
/// may carry, by name (any case) or number (`Enum.TryParse` + `IsDefined`, COR-17).
const TRANSMISSION_TYPES: [&str; 8] =
    ["Information", "Acceptance", "Rejection", "Request", "Alert", "Decision", "Submission", "Correction"];

fn is_transmission_type(v: &str) -> bool {
    let v = v.trim();
    v.parse::<u8>().is_ok_and(|n| (1..=8).contains(&n))
        || TRANSMISSION_TYPES.iter().any(|t| t.eq_ignore_ascii_case(v))
}

/// Why a record cannot be migrated as it is; `None` if it can.
pub fn validate(r: &A2Correspondence) -> Option<String> {
    let mut p = Problems::default();
    p.int32("altinn2CorrespondenceId", r.altinn2_correspondence_id);
    p.int32("partyId", r.party_id);
    p.length("title", &r.title, 1, 255);
    p.length("summary", &r.summary, 0, 255);
    p.length("body", &r.body, 1, 30_000);
    if !LANGUAGES.iter().any(|l| l.eq_ignore_ascii_case(&r.language)) {
        p.push(format!("language must be nb, nn or en (is `{}`)", r.language));
    }
    if r.recipient.trim().is_empty() {
        p.push("recipient is missing".into());
    }
    if r.sender.trim().is_empty() {
        p.push("sender is missing".into());
    }
    p.resource_id(&r.resource_id);
    p.length("sendersReference", &r.senders_reference, 1, 4096);
    if let Some(ms) = &r.message_sender {
        p.length("messageSender", ms, 0, 255);
    }
    properties(&mut p, r);
    references(&mut p, r);
    for a in &r.attachments {
        attachment(&mut p, a);
    }
    for n in &r.notification_history {
        p.int32("altinn2NotificationId", n.altinn2_notification_id);
    }
    for f in &r.forwarding_history {
        forwarding(&mut p, f);
    }
    p.into_reason()
}

/// Why an event that arrives after its record cannot be sent (the rules its kind has in a
/// record). The importer refuses such a line, by file and line, so that a migrated item is never
/// stopped by a 400 on sync.
pub fn validate_event(e: &A2EventBody) -> Option<String> {
    let mut p = Problems::default();
    match e {
        A2EventBody::Status(_) => {}
        A2EventBody::Notification(n) => p.int32("altinn2NotificationId", n.altinn2_notification_id),
        A2EventBody::Forwarding(f) => forwarding(&mut p, f),
    }
    p.into_reason()
}

fn properties(p: &mut Problems, r: &A2Correspondence) {
    if r.property_list.len() > 10 {
        p.push(format!("propertyList can hold at most 10 properties (has {})", r.property_list.len()));
    }
    for (k, v) in &r.property_list {
        if utf16(k) > 50 {
            p.push(format!("propertyList key `{k}` is longer than 50"));
        }
        if utf16(v) > 300 {
            p.push(format!("propertyList value of `{k}` is longer than 300"));
        }
    }
}

fn references(p: &mut Problems, r: &A2Correspondence) {
    let refs = &r.external_references;
    if refs.len() > 10 {
        p.push(format!("externalReferences can hold at most 10 references (has {})", refs.len()));
    }
    for e in refs {
        match e.reference_type {
            ReferenceType::DialogportenTransmissionId => {
                p.push("an externalReference of type DialogportenTransmissionId is refused by A3".into())
            }
            // A3 would hand this value back as the dialog of the item instead of creating one
            // (COR-18): the item would look available while no dialog exists.
            ReferenceType::DialogportenDialogId => p.push(
                "an externalReference of type DialogportenDialogId would stand in for the dialog".into(),
            ),
            _ => {}
        }
    }
    let transmission_types: Vec<_> =
        refs.iter().filter(|e| e.reference_type == ReferenceType::DialogportenTransmissionType).collect();
    if let [one] = transmission_types.as_slice()
        && !is_transmission_type(&one.reference_value)
    {
        p.push(format!("`{}` is not a Dialogporten transmission type", one.reference_value));
    }
}

fn attachment(p: &mut Problems, a: &A2Attachment) {
    let id = &a.altinn2_attachment_id;
    if utf16(&a.file_name) > 255 {
        p.push(format!("attachment {id}: fileName is longer than 255"));
    }
    if a.display_name.as_deref().is_some_and(|d| utf16(d) > 255) {
        p.push(format!("attachment {id}: displayName is longer than 255"));
    }
    if let Some(c) = a.checksum.as_deref().filter(|c| !c.trim().is_empty())
        && !is_md5_hex(c)
    {
        p.push(format!("attachment {id}: checksum must be an MD5 hash in 32 lower-case hex digits"));
    }
}

fn forwarding(p: &mut Problems, f: &ForwardingEvent) {
    p.int32("forwardedByUserId", f.forwarded_by_user_id);
    if let Some(id) = f.forwarded_to_user_id {
        p.int32("forwardedToUserId", id);
    }
    if let Some(t) = &f.forwarding_text {
        p.length("forwardingText", t, 0, 4000);
    }
    if let Some(e) = &f.forwarded_to_email {
        p.length("forwardedToEmail", e, 0, 1000);
    }
    // An empty value is sent as null (A3's pattern refuses `""`); see `Histories::of`.
    if let Some(m) = f.mailbox_supplier.as_deref().filter(|m| !m.trim().is_empty())
        && !is_organisation(m)
    {
        p.push(format!(
            "mailboxSupplier `{m}` must be `urn:altinn:organization:identifier-no:<9 digits>` or `0192:<9 digits>`"
        ));
    }
}

/// `^(?:0192:|urn:altinn:organization:identifier-no:)\d{9}$`, A3's
/// `OrganizationNumberOptionalAttribute` (only Norway's `0192` prefix).
fn is_organisation(s: &str) -> bool {
    let org = s.strip_prefix("0192:").or_else(|| s.strip_prefix("urn:altinn:organization:identifier-no:"));
    org.is_some_and(|o| o.len() == 9 && o.bytes().all(|b| b.is_ascii_digit()))
}

/// A3's checksum rule asks for 32 lower-case characters; an MD5 in hex is what matches the bytes.
pub fn is_md5_hex(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn utf16(s: &str) -> usize {
    s.encode_utf16().count()
}

#[derive(Default)]
struct Problems(Vec<String>);

impl Problems {
    fn push(&mut self, p: String) {
        self.0.push(p);
    }

    fn length(&mut self, field: &str, value: &str, min: usize, max: usize) {
        let n = utf16(value);
        if n < min || n > max || (min > 0 && value.trim().is_empty()) {
            self.push(format!("{field} must be {min}-{max} characters (is {n})"));
        }
    }

    /// A3 binds these ids as .NET `int`.
    fn int32(&mut self, field: &str, value: i64) {
        if i32::try_from(value).is_err() {
            self.push(format!("{field} {value} does not fit A3's 32-bit integer"));
        }
    }

    /// `^(urn:altinn:resource:)?[^:]{1,255}$` (ATT-12).
    fn resource_id(&mut self, id: &str) {
        let bare = id.strip_prefix("urn:altinn:resource:").unwrap_or(id);
        if id.trim().is_empty() {
            self.push("resourceId is missing".into());
        } else if bare.is_empty() || bare.contains(':') || utf16(id) > 255 {
            self.push(format!("resourceId `{id}` is not a resource identifier"));
        }
    }

    fn into_reason(self) -> Option<String> {
        (!self.0.is_empty()).then(|| self.0.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_count_utf16_units_as_dotnet_does() {
        let mut p = Problems::default();
        // 254 letters and one emoji: 255 characters, 256 UTF-16 units.
        p.length("title", &format!("{}😀", "a".repeat(254)), 1, 255);
        assert_eq!(p.0.len(), 1);
        let mut p = Problems::default();
        p.length("title", &"æ".repeat(255), 1, 255);
        assert!(p.0.is_empty());
    }

    #[test]
    fn organisation_numbers_in_both_forms() {
        assert!(is_organisation("0192:910753614"));
        assert!(is_organisation("urn:altinn:organization:identifier-no:910753614"));
        assert!(!is_organisation("910753614"));
        assert!(!is_organisation("0192:91075361"));
        assert!(!is_organisation("0208:910753614"), "only Norway's prefix");
    }

    #[test]
    fn md5_is_32_lower_hex() {
        assert!(is_md5_hex("d41d8cd98f00b204e9800998ecf8427e"));
        assert!(!is_md5_hex("D41D8CD98F00B204E9800998ECF8427E"));
        assert!(!is_md5_hex("d41d8cd98f00b204e9800998ecf8427"));
    }
}
