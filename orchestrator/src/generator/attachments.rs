//! A correspondence's attachments: PDFs with synthetic bytes, some encrypted, most with the MD5
//! checksum A3 compares with the bytes.

use super::Generator;
use rand::Rng;
use workers::a2::{A2Attachment, synthetic_bytes};
use workers::migrate::md5_hex;

impl Generator {
    /// PDFs, some encrypted, most with their MD5 checksum (the one A3 compares with the bytes).
    pub(super) fn attachments(&mut self, id: i64) -> Vec<A2Attachment> {
        (0..self.rng.random_range(0..3))
            .map(|n| {
                let altinn2_attachment_id = format!("{id}-{n}");
                let len = self.rng.random_range(200..4_000);
                let checksum =
                    self.rng.random_bool(0.8).then(|| md5_hex(&synthetic_bytes(&altinn2_attachment_id, len)));
                A2Attachment {
                    file_name: format!("vedlegg-{n}.pdf"),
                    display_name: Some(format!("Vedlegg {}", n + 1)),
                    is_encrypted: self.rng.random_bool(0.1),
                    checksum,
                    location: format!("synthetic:{len}"),
                    altinn2_attachment_id,
                }
            })
            .collect()
    }
}
