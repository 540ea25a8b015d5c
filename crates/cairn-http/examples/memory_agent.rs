//! The HTTP API over an in-memory catalog and a fake agent (the handler tests' backend): no
//! raft, no gossip. For pointing real Consul clients at the API:
//!
//! ```text
//! cargo run -p cairn-http --example memory_agent -- 127.0.0.1:18500
//! python3 crates/cairn-http/tests/clients/python_consul.py 18500
//! ```

#[path = "../tests/support/mod.rs"]
mod support;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:18500".to_string());
    let api = support::TestApi::new();
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("listening on {}", listener.local_addr()?);
    api.server
        .clone()
        .serve(listener, async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
