//! Object storage: where the S3-compatible store is (MinIO in production, any S3 server
//! in development), a client for it, and the buckets the stack needs.

use friction_schema::topics::BUCKETS;
use minio::s3::types::S3Api;
use serde::{Deserialize, Serialize};

/// Where the object store is; flattened into the config of every binary that uses it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct S3Config {
    /// Endpoint URL, e.g. `http://127.0.0.1:9200`.
    pub s3_endpoint: String,
    /// Region the server signs with.
    pub s3_region: String,
    /// Access key id.
    pub s3_access_key: String,
    /// Secret key.
    pub s3_secret_key: String,
}

impl Default for S3Config {
    fn default() -> Self {
        S3Config {
            s3_endpoint: "http://127.0.0.1:9000".into(),
            s3_region: "us-east-1".into(),
            s3_access_key: String::new(),
            s3_secret_key: String::new(),
        }
    }
}

/// The object store refused or could not be reached.
#[derive(Debug, thiserror::Error)]
#[error("object storage: {0}")]
pub struct ObjectError(String);

impl ObjectError {
    fn from_display(e: impl std::fmt::Display) -> Self {
        ObjectError(e.to_string())
    }
}

impl S3Config {
    /// A client signing with the configured region.
    pub fn client(&self) -> Result<minio::s3::MinioClient, ObjectError> {
        let mut base_url: minio::s3::http::BaseUrl = self
            .s3_endpoint
            .parse()
            .map_err(ObjectError::from_display)?;
        base_url.region = self.s3_region.parse().map_err(ObjectError::from_display)?;
        let provider =
            minio::s3::creds::StaticProvider::new(&self.s3_access_key, &self.s3_secret_key, None);
        minio::s3::MinioClientBuilder::new(base_url)
            .provider(Some(provider))
            // The client signs as us-east-1 when it skips the region lookup, so the lookup
            // (one request per bucket, cached) is kept for servers in any other region.
            .skip_region_lookup(self.s3_region == "us-east-1")
            .build()
            .map_err(ObjectError::from_display)
    }
}

/// Creates every bucket that does not exist yet; returns those it created.
pub async fn ensure_buckets(s3: &S3Config) -> Result<Vec<&'static str>, ObjectError> {
    let client = s3.client()?;
    let failed = |bucket: &str, e: &dyn std::fmt::Display| ObjectError(format!("{bucket}: {e}"));
    let mut created = Vec::new();
    for bucket in BUCKETS {
        let exists = client
            .bucket_exists(bucket)
            .map_err(|e| failed(bucket, &e))?
            .build()
            .send()
            .await
            .map_err(|e| failed(bucket, &e))?
            .exists();
        if !exists {
            client
                .create_bucket(bucket)
                .map_err(|e| failed(bucket, &e))?
                .build()
                .send()
                .await
                .map_err(|e| failed(bucket, &e))?;
            created.push(bucket);
        }
    }
    Ok(created)
}
