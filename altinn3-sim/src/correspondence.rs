//! The migrate request, `MigrateCorrespondenceExt` (`Models/MigrateCorrespondenceExt.cs`) with
//! `MigrateInitializeCorrespondencesExt`, `BaseCorrespondenceExt`, `InitializeCorrespondenceContentExt`,
//! `ExternalReferenceExt`, `CorrespondenceReplyOptionExt`: bound from JSON (C# `required` members
//! enforced by STJ) and validated by DataAnnotations (explicit attributes plus the implicit
//! `[Required]` of non-nullable references). `notification` and `content.attachments` are not read
//! (the migration ignores them).

use crate::binding::{self, JResult, ModelState, Obj};
use crate::enums;
use crate::events::{self, ForwardingIn, NotificationIn, StatusIn};
use crate::timestamp;
use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

/// `MigrateCorrespondenceExt`.
#[derive(Debug)]
pub(crate) struct MigrateIn {
    pub data: Option<DataIn>,
    pub altinn2_id: i32,
    pub event_history: Option<Vec<Option<StatusIn>>>,
    pub notification_history: Option<Vec<Option<NotificationIn>>>,
    pub forwarding_history: Option<Vec<Option<ForwardingIn>>>,
    pub is_migrating: bool,
    pub created: DateTime<Utc>,
    pub created_given: bool,
    pub party_id: i32,
    pub make_available: bool,
}

/// `MigrateInitializeCorrespondencesExt`.
#[derive(Debug)]
pub(crate) struct DataIn {
    pub correspondence: Option<BaseIn>,
    pub recipients: Option<Vec<Option<String>>>,
    pub existing_attachments: Option<Vec<Uuid>>,
}

/// `BaseCorrespondenceExt` (the fields the migration uses or validates).
#[derive(Debug)]
pub(crate) struct BaseIn {
    pub resource_id: Option<String>,
    pub sender: Option<String>,
    pub senders_reference: Option<String>,
    pub message_sender: Option<String>,
    pub content: Option<ContentIn>,
    pub requested_publish_time: Option<DateTime<Utc>>,
    pub external_references: Option<Vec<Option<ExtRef>>>,
    pub property_list: Option<Vec<(String, Option<String>)>>,
    pub reply_options: Option<Vec<Option<Option<String>>>>,
}

/// An `ExternalReferenceExt`: (type number, value).
pub(crate) type ExtRef = (i64, Option<String>);

/// `InitializeCorrespondenceContentExt`.
#[derive(Debug)]
pub(crate) struct ContentIn {
    pub language: Option<String>,
    pub title: Option<String>,
    pub summary: Option<String>,
    pub body: Option<String>,
}

fn read_content(v: &Value, path: &str) -> JResult<Option<ContentIn>> {
    let Some(mut o) =
        Obj::new(v, path, "Altinn.Correspondence.API.Models.InitializeCorrespondenceContentExt")?
    else {
        return Ok(None);
    };
    let language = o.prop("language", false, binding::string)?.flatten();
    let title = o.prop("messageTitle", true, binding::string)?.flatten();
    let summary = o.prop("messageSummary", false, binding::string)?.flatten();
    let body = o.prop("messageBody", true, binding::string)?.flatten();
    o.finish()?;
    Ok(Some(ContentIn { language, title, summary, body }))
}

fn read_ext_ref(v: &Value, path: &str) -> JResult<Option<ExtRef>> {
    let Some(mut o) = Obj::new(v, path, "Altinn.Correspondence.API.Models.ExternalReferenceExt")? else {
        return Ok(None);
    };
    let value = o.prop("referenceValue", true, binding::string)?.flatten();
    let ty = o.prop(
        "referenceType",
        true,
        binding::enum_(enums::REFERENCE_TYPE, "Altinn.Correspondence.API.Models.Enums.ReferenceTypeExt"),
    )?;
    o.finish()?;
    Ok(Some((ty.unwrap_or(0), value)))
}

fn read_reply(v: &Value, path: &str) -> JResult<Option<Option<String>>> {
    let Some(mut o) = Obj::new(v, path, "Altinn.Correspondence.API.Models.CorrespondenceReplyOptionExt")?
    else {
        return Ok(None);
    };
    let url = o.prop("linkURL", true, binding::string)?.flatten();
    o.prop("linkText", false, binding::string)?;
    o.finish()?;
    Ok(Some(url))
}

fn read_base(v: &Value, path: &str) -> JResult<Option<BaseIn>> {
    let Some(mut o) = Obj::new(v, path, "Altinn.Correspondence.API.Models.BaseCorrespondenceExt")? else {
        return Ok(None);
    };
    let resource_id = o.prop("resourceId", true, binding::string)?.flatten();
    let sender = o.prop("sender", false, binding::string)?.flatten();
    let senders_reference = o.prop("sendersReference", true, binding::string)?.flatten();
    let message_sender = o.prop("messageSender", false, binding::string)?.flatten();
    let content = o.prop("content", false, read_content)?.flatten();
    let requested_publish_time = o.prop("requestedPublishTime", false, binding::opt_date)?.flatten();
    o.prop("dueDateTime", false, binding::opt_date)?;
    let external_references =
        o.prop("externalReferences", false, |v, p| binding::list(v, p, read_ext_ref))?.flatten();
    // `PropertyList = new Dictionary()` and `ReplyOptions = new List()` by default (BaseCorrespondenceExt.cs:77,83).
    let property_list = o.prop("propertyList", false, binding::string_map)?.unwrap_or(Some(Vec::new()));
    let reply_options =
        o.prop("replyOptions", false, |v, p| binding::list(v, p, read_reply))?.unwrap_or(Some(Vec::new()));
    o.prop("ignoreReservation", false, binding::opt_bool)?;
    o.prop("isConfirmationNeeded", false, binding::bool_)?;
    o.prop("isConfidential", false, binding::bool_)?;
    o.finish()?;
    Ok(Some(BaseIn {
        resource_id,
        sender,
        senders_reference,
        message_sender,
        content,
        requested_publish_time,
        external_references,
        property_list,
        reply_options,
    }))
}

fn read_data(v: &Value, path: &str) -> JResult<Option<DataIn>> {
    let Some(mut o) =
        Obj::new(v, path, "Altinn.Correspondence.API.Models.MigrateInitializeCorrespondencesExt")?
    else {
        return Ok(None);
    };
    let correspondence = o.prop("correspondence", true, read_base)?.flatten();
    let recipients = o.prop("recipients", true, |v, p| binding::list(v, p, binding::string))?.flatten();
    // `ExistingAttachments = new List<Guid>()` by default (MigrateInitializeCorrespondencesExt.cs:25).
    let existing_attachments = o
        .prop("existingAttachments", false, |v, p| binding::list(v, p, binding::guid))?
        .unwrap_or(Some(Vec::new()));
    o.prop("idempotentKey", false, binding::opt_guid)?;
    o.prop("published", false, binding::opt_date)?;
    o.finish()?;
    Ok(Some(DataIn { correspondence, recipients, existing_attachments }))
}

/// Binds the body (`$`); `Ok(None)` for a JSON `null` body.
pub(crate) fn read(v: &Value) -> JResult<Option<MigrateIn>> {
    let Some(mut o) = Obj::new(v, "$", "Altinn.Correspondence.API.Models.MigrateCorrespondenceExt")? else {
        return Ok(None);
    };
    let data = o.prop("correspondenceData", true, read_data)?.flatten();
    let altinn2_id = o.prop("altinn2CorrespondenceId", true, binding::i32_)?.unwrap_or(0);
    // History lists default to empty lists (MigrateCorrespondenceExt.cs:14,17,20).
    let event_history = o
        .prop("eventHistory", false, |v, p| binding::list(v, p, events::read_status))?
        .unwrap_or(Some(Vec::new()));
    let notification_history = o
        .prop("notificationHistory", false, |v, p| binding::list(v, p, events::read_notification))?
        .unwrap_or(Some(Vec::new()));
    let forwarding_history = o
        .prop("forwardingHistory", false, |v, p| binding::list(v, p, events::read_forwarding))?
        .unwrap_or(Some(Vec::new()));
    // [JsonPropertyName("IsMigrating")] — matched case-insensitively; default false (MigrateCorrespondenceExt.cs:22-23).
    let is_migrating = o.prop("IsMigrating", false, binding::bool_)?.unwrap_or(false);
    let created = o.prop("created", false, binding::date)?;
    let party_id = o.prop("partyId", false, binding::i32_)?.unwrap_or(0);
    let make_available = o.prop("makeAvailable", false, binding::bool_)?.unwrap_or(false);
    o.finish()?;
    Ok(Some(MigrateIn {
        data,
        altinn2_id,
        event_history,
        notification_history,
        forwarding_history,
        is_migrating,
        created: created.unwrap_or_else(timestamp::min_value),
        created_given: created.is_some(),
        party_id,
        make_available,
    }))
}

/// DataAnnotations validation of the bound request; `Err` is an exception a validator throws.
pub(crate) fn validate(m: &MigrateIn, ms: &mut ModelState) -> Result<(), String> {
    ms.not_null("CorrespondenceData", &m.data);
    if let Some(d) = &m.data {
        ms.not_null("CorrespondenceData.Correspondence", &d.correspondence);
        if let Some(b) = &d.correspondence {
            validate_base(b, ms)?;
        }
        // Recipients: [Required] (MigrateInitializeCorrespondencesExt.cs:18).
        ms.not_null("CorrespondenceData.Recipients", &d.recipients);
        ms.not_null("CorrespondenceData.ExistingAttachments", &d.existing_attachments);
    }
    ms.not_null("EventHistory", &m.event_history);
    if let Some(l) = &m.event_history {
        events::validate_list(ms, "EventHistory", l, events::validate_status);
    }
    ms.not_null("NotificationHistory", &m.notification_history);
    if let Some(l) = &m.notification_history {
        events::validate_list(ms, "NotificationHistory", l, events::validate_notification);
    }
    ms.not_null("ForwardingHistory", &m.forwarding_history);
    if let Some(l) = &m.forwarding_history {
        events::validate_list(ms, "ForwardingHistory", l, events::validate_forwarding);
    }
    Ok(())
}

fn validate_base(b: &BaseIn, ms: &mut ModelState) -> Result<(), String> {
    let p = "CorrespondenceData.Correspondence";
    let k = |n: &str| binding::key(p, n);
    // ResourceId: [StringLength(255, MinimumLength = 1)] [Required] [ResourceIdentifier] (BaseCorrespondenceExt.cs:16-19).
    ms.required(&k("ResourceId"), b.resource_id.as_deref(), false);
    ms.string_length(&k("ResourceId"), b.resource_id.as_deref(), 255, 1);
    if !b.resource_id.as_deref().is_some_and(crate::attachment::is_resource_identifier) {
        ms.add(k("ResourceId"), "Invalid Resource identifier format");
    }
    // SendersReference: [StringLength(4096, MinimumLength = 1)] [Required] (:35-37); MessageSender [StringLength(255)] (:43).
    ms.required(&k("SendersReference"), b.senders_reference.as_deref(), false);
    ms.string_length(&k("SendersReference"), b.senders_reference.as_deref(), 4096, 1);
    ms.string_length(&k("MessageSender"), b.message_sender.as_deref(), 255, 0);
    if let Some(c) = &b.content {
        let cp = |n: &str| binding::key(&k("Content"), n);
        // [ISO6391] (InitializeCorrespondenceContentExt.cs:59-75).
        if let Some(l) = c.language.as_deref().filter(|l| !l.trim().is_empty()) {
            if l.encode_utf16().count() != 2 {
                ms.add(cp("Language"), "The ISO6391 field must be exactly 2 characters long!");
            } else if l == "iv" {
                ms.add(cp("Language"), "The language code must be ISO6391 compliant!");
            }
        }
        // MessageTitle [Required] [StringLength(255, 1)], MessageSummary [StringLength(255)],
        // MessageBody [Required] [StringLength(30000, 1)] (InitializeCorrespondenceContentExt.cs:26-43).
        ms.required(&cp("MessageTitle"), c.title.as_deref(), false);
        ms.string_length(&cp("MessageTitle"), c.title.as_deref(), 255, 1);
        ms.string_length(&cp("MessageSummary"), c.summary.as_deref(), 255, 0);
        ms.required(&cp("MessageBody"), c.body.as_deref(), false);
        ms.string_length(&cp("MessageBody"), c.body.as_deref(), 30000, 1);
    }
    // [ExternalReferences] (BaseCorrespondenceExt.cs:150-187); ReferenceValue implicit [Required].
    if let Some(refs) = &b.external_references {
        if refs.len() > 10 {
            ms.add(k("ExternalReferences"), "externalReferences can contain at most 10 references");
        } else if refs.iter().flatten().any(|(t, _)| *t == enums::TRANSMISSION_ID_REFERENCE) {
            ms.add(
                k("ExternalReferences"),
                "Cannot initialize a correspondence with pre-existing transmission defined",
            );
        } else {
            // Exactly one DialogportenTransmissionType reference must name a transmission type
            // (BaseCorrespondenceExt.cs:170-182); two or more are not checked upstream.
            let types: Vec<_> =
                refs.iter().flatten().filter(|(t, _)| *t == enums::TRANSMISSION_TYPE_REFERENCE).collect();
            if let [(_, value)] = types.as_slice()
                && !value.as_deref().is_some_and(enums::is_transmission_type)
            {
                ms.add(
                    k("ExternalReferences"),
                    "DialogportenTransmissionType referenceValue must be a valid transmission type",
                );
            }
        }
        for (i, r) in refs.iter().enumerate() {
            if let Some((_, v)) = r {
                ms.required(&format!("{}[{i}].ReferenceValue", k("ExternalReferences")), v.as_deref(), true);
            }
        }
    }
    // PropertyList: non-nullable; [PropertyList] (BaseCorrespondenceExt.cs:113-147), whose
    // `keyValuePair.Value.Length` throws on a null value.
    ms.not_null(&k("PropertyList"), &b.property_list);
    if let Some(pl) = &b.property_list {
        if pl.len() > 10 {
            ms.add(k("PropertyList"), "propertyList can contain at most 10 properties");
        } else {
            for (key, value) in pl {
                let klen = key.encode_utf16().count();
                if klen > 50 {
                    ms.add(
                        k("PropertyList"),
                        format!("propertyList Key can not be longer than 50. Length:{klen}, KeyValue:{key}"),
                    );
                    break;
                }
                let Some(value) = value else {
                    return Err("Object reference not set to an instance of an object. (PropertyListAttribute on a null value)".into());
                };
                let vlen = value.encode_utf16().count();
                if vlen > 300 {
                    ms.add(
                        k("PropertyList"),
                        format!(
                            "propertyList Value can not be longer than 300. Length:{vlen}, Value:{value}"
                        ),
                    );
                    break;
                }
            }
        }
    }
    // LinkURL implicit [Required] (CorrespondenceReplyOptionExt.cs:15).
    if let Some(ro) = &b.reply_options {
        for (i, r) in ro.iter().enumerate() {
            if let Some(url) = r {
                ms.required(&format!("{}[{i}].LinkURL", k("ReplyOptions")), url.as_deref(), true);
            }
        }
    }
    Ok(())
}
