//! SeaORM entities, one module per table.

pub mod a2_event;
pub mod a2_record;
pub mod import_file;
pub mod item_count;
pub mod node;
pub mod phase_control;
pub mod schedule_run;
pub mod transition_minute;
pub mod workflow;
pub mod workflow_history;
