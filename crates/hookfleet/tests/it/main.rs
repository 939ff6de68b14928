//! End-to-end tests of the fleet against the real RabbitMQ, PostgreSQL and loopback receivers.
mod bad_input;
mod crash;
mod delivery;
mod fanout;
mod hostile;
mod intake_props;
mod poison;
mod reconnect;
mod retries;
mod subscriptions;
