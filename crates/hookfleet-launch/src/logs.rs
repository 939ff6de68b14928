//! How a process that runs roles writes its log: the one filter and format the `hookfleet`
//! binary and `hookfleet-dev` share, so what keeps secrets out of the log is written once.

/// Installs the process's log: `RUST_LOG` (default `info,lapin=warn,amq_protocol=warn`), with
/// colour only on a terminal.
pub fn init_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,lapin=warn,amq_protocol=warn".into())
        // tokio-postgres logs every statement's parameters at debug level, subscription
        // secrets and API key hashes among them: whatever RUST_LOG asks, never those lines.
        .add_directive(
            "tokio_postgres::query=info"
                .parse()
                .expect("a constant, valid directive"),
        );
    // Colour only for a person at a terminal: in a file, a pipe or a log collector the escape
    // codes are noise that breaks grep and parsers.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .try_init();
}
