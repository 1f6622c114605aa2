//! What a correspondence points to besides its text: external references of each kind, reply
//! options and its free property list.

use super::Generator;
use rand::Rng;
use workers::a3::model::{ExternalReference, ReferenceType, ReplyOption};

impl Generator {
    pub(super) fn external_references(&mut self, id: i64) -> Vec<ExternalReference> {
        let mut out = Vec::new();
        if self.rng.random_bool(0.1) {
            let kind = [
                ReferenceType::Generic,
                ReferenceType::AltinnAppInstance,
                ReferenceType::DialogportenProcessId,
            ][self.rng.random_range(0..3)];
            let value = match kind {
                ReferenceType::AltinnAppInstance => format!("50012345/{}", self.uuid()),
                ReferenceType::DialogportenProcessId => format!("urn:no:sak:{id}"),
                _ => format!("SAK-{id}"),
            };
            out.push(ExternalReference { reference_value: value, reference_type: kind });
        }
        if self.rng.random_bool(0.05) {
            out.push(ExternalReference {
                reference_value: "Information".into(),
                reference_type: ReferenceType::DialogportenTransmissionType,
            });
        }
        out
    }

    pub(super) fn reply_options(&mut self, id: i64) -> Vec<ReplyOption> {
        if !self.rng.random_bool(0.1) {
            return Vec::new();
        }
        vec![ReplyOption {
            link_url: format!("https://svar.example.no/sak/{id}"),
            link_text: self.rng.random_bool(0.7).then(|| "Svar her".into()),
        }]
    }

    pub(super) fn property_list(&mut self, id: i64) -> std::collections::BTreeMap<String, String> {
        let mut out = std::collections::BTreeMap::new();
        if self.rng.random_bool(0.1) {
            out.insert("saksnummer".into(), id.to_string());
            out.insert("arkivkode".into(), format!("{}", self.rng.random_range(100..999)));
        }
        out
    }
}
