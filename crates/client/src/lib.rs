//! The client side of Session Manager: finding the server and credentials the way the aws
//! CLI does ([`config`]), signed SSM calls ([`api`]), the terminal ([`terminal`]), the
//! data-channel session ([`session`]) and the `session-manager-plugin` calling
//! convention ([`plugin`]).

pub mod api;
pub mod channel;
pub mod config;
pub mod plugin;
pub mod session;
pub mod terminal;
