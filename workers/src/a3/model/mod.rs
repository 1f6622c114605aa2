//! The Altinn 3 migration API's request and response bodies, named exactly as the contract gives
//! them (camelCase; `IsMigrating` with a capital I; enums as strings, numbers accepted on input).
//!
//! One file per endpoint or concept: the correspondence a migrate call sends and its answer
//! (`correspondence.rs`), the three histories and their enums (`events.rs`), the attachment upload
//! (`attachment.rs`), make-available (`make_available.rs`), the sync calls (`sync.rs`) and A3's
//! error body (`problem.rs`). Everything is re-exported here, so callers name `a3::model::X`.

#[macro_use]
mod string_enum;

mod attachment;
mod correspondence;
mod events;
mod make_available;
mod problem;
mod sync;

pub use attachment::AttachmentUploadQuery;
pub use correspondence::{
    AttachmentStatus, Content, Correspondence, CorrespondenceData, ExternalReference,
    MigrateCorrespondenceExt, MigrateCorrespondenceResponse, ReferenceType, ReplyOption,
};
pub use events::{
    CorrespondenceStatus, ForwardingEvent, NotificationChannel, NotificationEvent, StatusEvent,
};
pub use make_available::{MakeAvailableRequest, MakeAvailableResponse, MakeAvailableStatus};
pub use problem::ProblemDetails;
pub use sync::{SyncForwardingEventRequest, SyncNotificationEventRequest, SyncStatusEventRequest};

use uuid::Uuid;

/// The dialog id in an A3 answer, if it names one: `None` for null, `""` or anything that is not
/// a UUID (A3 stores dialog ids as strings and answers `""` for "no dialog").
pub fn dialog_uuid(dialog_id: Option<&str>) -> Option<Uuid> {
    dialog_id.map(str::trim).filter(|d| !d.is_empty()).and_then(|d| Uuid::parse_str(d).ok())
}
