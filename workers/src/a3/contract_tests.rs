//! Placeholder: contract round-trip tests are being written.
