//! The payment rails' wire formats, byte for byte: how each rail signs, what its
//! requests, notifications and answers say, read strictly. Pure (no I/O): the platform's
//! adapters (danbao-app) speak them as a merchant, the sandbox's protocol simulators as
//! the gateway, so both sides are tested against the same reading of each format — and
//! against vectors computed outside this code.

pub mod alipay;
pub mod epay;
pub mod epay_v2;
pub mod rsa_sha256;
pub mod wechat;
