//! Helpers shared by the emulator's integration tests: an in-process emulator and a client.
#![allow(dead_code)]

use anacondad_tests::emulator::{self, EmulatorConfig, EmulatorHandle};
use serde_json::{Value, json};

pub const CLIENT_ID: &str = emulator::CLIENT_ID;

/// An in-process emulator with a client that trusts it and never follows redirects.
pub struct Emu {
    pub handle: EmulatorHandle,
    pub http: reqwest::Client,
}

pub async fn start(config: EmulatorConfig) -> Emu {
    let handle = emulator::start(config).await.expect("emulator starts");
    anacondad_tests::install_crypto_provider();
    let mut builder = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none());
    if let Some(pem) = &handle.ca_pem {
        builder =
            builder.add_root_certificate(reqwest::Certificate::from_pem(pem.as_bytes()).unwrap());
    }
    Emu {
        handle,
        http: builder.build().unwrap(),
    }
}

pub async fn start_default() -> Emu {
    start(EmulatorConfig::default()).await
}

impl Emu {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.handle.base_url)
    }

    pub async fn control(&self, path: &str, body: Value) -> Value {
        let response = self
            .http
            .post(self.url(path))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "control {path} answered {}",
            response.status()
        );
        response.json().await.unwrap()
    }

    pub async fn control_get(&self, path: &str) -> Value {
        self.http
            .get(self.url(path))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// How many requests reached paths starting with `prefix`.
    pub async fn count(&self, prefix: &str) -> u64 {
        let v = self
            .control_get(&format!("/_emulator/counters?prefix={prefix}"))
            .await;
        v["total"].as_u64().unwrap()
    }

    pub async fn api_key(&self) -> String {
        let v = self.control("/_emulator/api-keys", json!({})).await;
        v["api_key"].as_str().unwrap().to_string()
    }

    pub async fn issue_token(&self, org: &str) -> String {
        let v = self
            .control(&format!("/_emulator/orgs/{org}/token"), json!({}))
            .await;
        v["token"].as_str().unwrap().to_string()
    }

    pub async fn token_post(&self, form: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .post(self.url("/api/auth/oauth2/token"))
            .form(form)
            .send()
            .await
            .unwrap()
    }

    pub async fn start_device_flow(&self, scope: &str) -> Value {
        let response = self
            .http
            .post(self.url("/api/auth/oauth2/device/auth"))
            .form(&[("client_id", CLIENT_ID), ("scope", scope)])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }

    pub async fn poll_device(&self, device_code: &str) -> (u16, Value) {
        let response = self
            .token_post(&[
                ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
                ("device_code", device_code),
                ("client_id", CLIENT_ID),
            ])
            .await;
        let status = response.status().as_u16();
        (status, response.json().await.unwrap())
    }
}

/// The default config, with a zero device interval so tests can poll back to back.
pub fn fast_polling() -> EmulatorConfig {
    EmulatorConfig {
        device_interval_secs: 0,
        ..EmulatorConfig::default()
    }
}
