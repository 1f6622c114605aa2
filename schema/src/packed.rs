//! Packed JSON: how the A2 records' and events' JSON is stored (`packed` columns of `a2_records`
//! and `a2_events`).
//!
//! Why: a record's JSON is about 1 KB and an event's 200 bytes, and most of those bytes are the
//! same field names on every row. Stored as text they made three quarters of an import's writes,
//! and an import on a disk is bound by its writes (issue 13); at 568M items they are terabytes.
//! Small JSON barely shrinks on its own (LZ4 alone: to 72% for a record, 84% for an event), so
//! it is packed against a dictionary of what every row repeats, the export format's field names
//! and fixed values (to about 43% and 52%).
//!
//! LZ4, not zstd: zstd (level 1) packs a record to 36%, but builds its entropy tables anew for
//! every value this small, and that made the import a third slower on a machine where the
//! writes were not the bound. LZ4 has no entropy stage.
//!
//! A packed value is one version byte, the JSON's length (4 bytes, little-endian), then an LZ4
//! block made with that version's dictionary. Rows packed under a version stay readable only
//! while its dictionary is unchanged, so a dictionary is never edited: a better one is a new
//! version, and [`unpack`] keeps every old one. Rows written before packing have their JSON in
//! `payload` and no `packed`.

/// The version byte of values packed with [`DICTIONARY_1`].
const VERSION_1: u8 = 1;

/// Nothing stored is larger than this unpacked (an export line is at most a few MB): a value
/// that claims more is damaged, and longer JSON is refused.
const MAX_UNPACKED: usize = 64 << 20;

/// Version 1's dictionary: a record and an event of each kind as the importer stores them, with
/// the values left out. Raw content: LZ4 takes matches from it as from earlier input; the
/// likeliest matches come last, where they are nearest. Never edit it (see the module doc).
const DICTIONARY_1: &[u8] = concat!(
    r#"{"externalReferences":[{"referenceValue":"","referenceType":"DialogportenDialogId"}],"#,
    r#""propertyList":{},"ignoreReservation":false,"#,
    r#"{"kind":"forwarding","event":{"forwardedOnDate":"","forwardedByPartyUuid":"","#,
    r#""forwardedByUserId":,"forwardedByUserUuid":"","forwardedToUserId":,"forwardedToUserUuid":"","#,
    r#""forwardingText":"","forwardedToEmail":"","mailboxSupplier":""}}"#,
    r#"{"kind":"notification","event":{"notificationChannel":"Email","notificationChannel":"SmsPreferred","#,
    r#""notificationSent":"","altinn2NotificationId":,"notificationAddress":"","isReminder":false}}"#,
    r#"{"kind":"status","event":{"status":"Published","statusText":"Published","statusChanged":"","#,
    r#""eventUserUuid":"","eventUserPartyUuid":""}}"#,
    r#"{"altinn2CorrespondenceId":,"partyId":,"serviceOwner":"","resourceId":"","#,
    r#""recipient":"urn:altinn:person:identifier-no:","recipient":"urn:altinn:organization:identifier-no:","#,
    r#""sender":"0192:","senderPartyUuid":"","messageSender":"","sendersReference":"","#,
    r#""created":"","requestedPublishTime":"","published":"","dueDateTime":null,"dueDateTime":"","#,
    r#""language":"nb","title":"","summary":"","body":"","isConfirmationNeeded":false,"#,
    r#""replyOptions":[{"linkURL":"https://","linkText":""}],"#,
    r#""statusHistory":[],"notificationHistory":[],"forwardingHistory":[],"#,
    r#""attachments":[{"altinn2AttachmentId":"","fileName":"","displayName":"","isEncrypted":false,"#,
    r#""checksum":"","location":""}]}"#,
)
.as_bytes();

/// `json` packed with the current version; `Err` for JSON too long to store.
pub fn pack(json: &str) -> Result<Vec<u8>, String> {
    let input = json.as_bytes();
    let Some(len) = u32::try_from(input.len()).ok().filter(|_| input.len() <= MAX_UNPACKED) else {
        return Err(format!("{} bytes of JSON, more than the {MAX_UNPACKED} a row holds", input.len()));
    };
    let mut out = vec![0; 5 + lz4_flex::block::get_maximum_output_size(input.len())];
    out[0] = VERSION_1;
    out[1..5].copy_from_slice(&len.to_le_bytes());
    let n = lz4_flex::block::compress_into_with_dict(input, &mut out[5..], DICTIONARY_1)
        .map_err(|e| format!("cannot pack: {e}"))?;
    out.truncate(5 + n);
    Ok(out)
}

/// The JSON of a value [`pack`] made (with any version so far); `Err` says why a damaged one
/// cannot be read.
pub fn unpack(packed: &[u8]) -> Result<String, String> {
    let Some((&version, rest)) = packed.split_first() else {
        return Err("packed value is empty".into());
    };
    if version != VERSION_1 {
        return Err(format!("packed value has unknown version {version}"));
    }
    let (Some(size), Some(block)) = (rest.first_chunk::<4>(), rest.get(4..)) else {
        return Err("packed value is cut short".into());
    };
    let size = u32::from_le_bytes(*size) as usize;
    if size > MAX_UNPACKED {
        return Err(format!("packed value is damaged: it claims {size} bytes"));
    }
    let mut out = vec![0; size];
    let n = lz4_flex::block::decompress_into_with_dict(block, &mut out, DICTIONARY_1)
        .map_err(|e| format!("packed value is damaged: {e}"))?;
    if n != size {
        return Err(format!("packed value is damaged: {n} bytes of {size}"));
    }
    String::from_utf8(out).map_err(|e| format!("packed value is not UTF-8: {e}"))
}

/// The stored JSON of a row: its packed value when it has one, else its `payload` (rows from
/// before packing).
pub fn json_of(payload: String, packed: Option<&[u8]>) -> Result<String, String> {
    match packed {
        Some(packed) => unpack(packed),
        None => Ok(payload),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RECORD: &str = r#"{"altinn2CorrespondenceId":1000000,"partyId":53523321,"serviceOwner":"889640782","resourceId":"nav-vedtak-brev","recipient":"urn:altinn:organization:identifier-no:978532673","sender":"0192:889640782","senderPartyUuid":"01920000-0000-4000-8000-00003506d74e","messageSender":"NAV","sendersReference":"nav-vedtak-brev-1000000","created":"2019-01-01T00:01:27.119579Z","requestedPublishTime":"2019-01-01T00:01:27.119579Z","published":"2019-01-01T00:25:27.119579Z","dueDateTime":"2019-01-31T00:01:27.119579Z","language":"nb","title":"Vedtak om sak 1000000","summary":"Du har fått et nytt vedtak.","body":"Les vedtaket i sin helhet.","isConfirmationNeeded":false,"statusHistory":[],"notificationHistory":[],"forwardingHistory":[],"attachments":[]}"#;

    #[test]
    fn packs_and_unpacks_to_the_same_text_and_smaller() {
        for json in [RECORD, "", "{}", "ø".repeat(5000).as_str()] {
            assert_eq!(unpack(&pack(json).unwrap()).unwrap(), json);
        }
        let packed = pack(RECORD).unwrap();
        assert!(packed.len() * 2 < RECORD.len(), "{} of {}", packed.len(), RECORD.len());
        assert_eq!(pack(RECORD).unwrap(), packed, "the same text packs the same (re-imports compare them)");
    }

    #[test]
    fn a_damaged_value_is_an_error_not_a_panic() {
        let packed = pack(RECORD).unwrap();
        assert!(unpack(&[]).unwrap_err().contains("empty"));
        assert!(unpack(&[9, 1, 2]).unwrap_err().contains("unknown version 9"));
        assert!(unpack(&[VERSION_1, 1, 2]).unwrap_err().contains("cut short"));
        assert!(unpack(&packed[..packed.len() / 2]).unwrap_err().contains("damaged"));
        let mut huge = packed.clone();
        huge[1..5].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(unpack(&huge).unwrap_err().contains("claims"));
        let mut short = packed.clone();
        short[1..5].copy_from_slice(&10u32.to_le_bytes());
        assert!(unpack(&short).unwrap_err().contains("damaged"));
    }

    #[test]
    fn json_too_long_to_store_is_refused() {
        let long = " ".repeat(MAX_UNPACKED + 1);
        assert!(pack(&long).unwrap_err().contains("more than"));
    }

    #[test]
    fn rows_from_before_packing_read_their_payload() {
        assert_eq!(json_of("{\"a\":1}".into(), None).unwrap(), "{\"a\":1}");
        assert_eq!(json_of(String::new(), Some(&pack("{}").unwrap())).unwrap(), "{}");
    }
}
