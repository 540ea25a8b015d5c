//! Sessions (`/v1/session`).

use crate::client::{escape_segment, Client, Method, Request};
use crate::error::{Error, Result};
use cairn_types::{QueryMeta, QueryOptions, Session, SessionRequest};
use serde::Deserialize;

/// Session endpoints; get one with [`Client::session`].
#[derive(Debug, Clone, Copy)]
pub struct Sessions<'a> {
    client: &'a Client,
}

#[derive(Deserialize, Default)]
struct IdResponse {
    #[serde(rename = "ID", default)]
    id: String,
}

impl Client {
    /// Session endpoints.
    pub fn session(&self) -> Sessions<'_> {
        Sessions { client: self }
    }
}

impl Sessions<'_> {
    /// Create a session; returns its ID.
    pub async fn create(&self, request: &SessionRequest) -> Result<String> {
        let req = Request::new(Method::Put, "/v1/session/create").json(request)?;
        let (body, _) = self.client.get_json::<IdResponse>(req).await?;
        if body.id.is_empty() {
            return Err(Error::Decode("session create answer has no ID".into()));
        }
        Ok(body.id)
    }

    /// Destroy a session (idempotent).
    pub async fn destroy(&self, id: &str) -> Result<()> {
        let req = Request::new(
            Method::Put,
            format!("/v1/session/destroy/{}", escape_segment(id)),
        );
        self.client.send_ok(req).await?;
        Ok(())
    }

    /// Renew a TTL session; `None` when the session no longer exists (HTTP 404).
    pub async fn renew(&self, id: &str) -> Result<Option<Session>> {
        let req = Request::new(
            Method::Put,
            format!("/v1/session/renew/{}", escape_segment(id)),
        );
        let (sessions, _) = self.client.get_json_opt::<Vec<Session>>(req).await?;
        Ok(sessions.and_then(|s| s.into_iter().next()))
    }

    /// One session; `None` when unknown.
    pub async fn info(
        &self,
        id: &str,
        opts: &QueryOptions,
    ) -> Result<(Option<Session>, QueryMeta)> {
        let req = Request::new(
            Method::Get,
            format!("/v1/session/info/{}", escape_segment(id)),
        )
        .query(opts);
        let (sessions, meta) = self.client.get_json_opt::<Vec<Session>>(req).await?;
        Ok((sessions.and_then(|s| s.into_iter().next()), meta))
    }

    /// Sessions of one node.
    pub async fn node(&self, node: &str, opts: &QueryOptions) -> Result<(Vec<Session>, QueryMeta)> {
        let req = Request::new(
            Method::Get,
            format!("/v1/session/node/{}", escape_segment(node)),
        )
        .query(opts);
        self.client.get_json(req).await
    }

    /// All sessions.
    pub async fn list(&self, opts: &QueryOptions) -> Result<(Vec<Session>, QueryMeta)> {
        let req = Request::new(Method::Get, "/v1/session/list").query(opts);
        self.client.get_json(req).await
    }
}
