//! What the KafkaScope visualizer shows, kept free of Bevy so that it is tested in seconds: the run with
//! checkpoints, interventions and forks ([`run`]), the view model ([`view`]), the one mapping from user actions to
//! simulation commands ([`action`]), the replica and record inspectors ([`inspect`], [`record`]), the charts of a
//! partition's offsets and a group's lag ([`chart`]), shareable links ([`url`]) and the built-in scenarios
//! ([`catalog`]).
//!
//! Architecture Invariant: nothing here decides a Kafka outcome; it reads the simulation's state and forwards
//! commands to it.

pub mod action;
pub mod catalog;
pub mod chart;
pub mod inspect;
pub mod record;
pub mod run;
pub mod url;
pub mod view;
