//! The sandbox payment gateway: a simulated external payment provider with its own
//! in-memory state ([`gateway`]), and the merchant SDK the platform uses to talk to it
//! ([`client`]), sharing one definition of the wire format and signatures ([`wire`]).

pub mod client;
pub mod gateway;
pub mod wire;
