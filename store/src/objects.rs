//! Object storage: where the S3-compatible store is (MinIO in production, any S3 server
//! in development), the [`ObjectStore`] client (small puts, streamed uploads that switch
//! to multipart past a part size and abort when dropped unfinished, presigned URLs), and
//! the buckets the stack needs.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use friction_schema::topics::BUCKETS;
use futures_util::StreamExt;
use minio::s3::builders::ObjectContent;
use minio::s3::response_traits::HasEtagFromHeaders;
use minio::s3::segmented_bytes::SegmentedBytes;
use minio::s3::types::{PartInfo, S3Api, ToStream, UploadId};
use minio::s3::MinioClient;
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
    /// Address buckets as `endpoint/bucket/key` (MinIO, most S3 servers) rather than
    /// `bucket.endpoint/key`.
    pub s3_path_style: bool,
    /// How long one request to the store may take; a store that hangs counts as down.
    pub s3_timeout_ms: u64,
}

impl Default for S3Config {
    fn default() -> Self {
        S3Config {
            s3_endpoint: "http://127.0.0.1:9000".into(),
            s3_region: "us-east-1".into(),
            s3_access_key: String::new(),
            s3_secret_key: String::new(),
            s3_path_style: true,
            s3_timeout_ms: 30_000,
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
        base_url.virtual_style = !self.s3_path_style;
        let provider =
            minio::s3::creds::StaticProvider::new(&self.s3_access_key, &self.s3_secret_key, None);
        minio::s3::MinioClientBuilder::new(base_url)
            .provider(Some(provider))
            // The configured region is the one signed with; no lookup request is needed.
            .skip_region_lookup(true)
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

/// A client of the object store.
#[derive(Clone, Debug)]
pub struct ObjectStore {
    client: MinioClient,
    endpoint: String,
    timeout: Duration,
}

impl ObjectStore {
    /// A client for the configured store (no request is made yet).
    pub fn new(config: &S3Config) -> Result<Self, ObjectError> {
        Ok(ObjectStore {
            client: config.client()?,
            endpoint: config.s3_endpoint.trim_end_matches('/').to_owned(),
            timeout: Duration::from_millis(config.s3_timeout_ms.max(1)),
        })
    }

    /// One request, within the store's timeout.
    async fn timed<T, E: std::fmt::Display>(
        &self,
        request: impl std::future::Future<Output = Result<T, E>>,
    ) -> Result<T, ObjectError> {
        match tokio::time::timeout(self.timeout, request).await {
            Ok(result) => result.map_err(ObjectError::from_display),
            Err(_) => Err(ObjectError(format!(
                "no answer within {} ms",
                self.timeout.as_millis()
            ))),
        }
    }

    /// The object's URL (path style); reading it needs credentials or a presigned URL.
    pub fn url(&self, bucket: &str, key: &str) -> String {
        format!("{}/{bucket}/{key}", self.endpoint)
    }

    /// Stores `data` in one request.
    pub async fn put(
        &self,
        bucket: &str,
        key: &str,
        data: Bytes,
        content_type: &str,
    ) -> Result<(), ObjectError> {
        let request = self
            .client
            .put_object_content(bucket, key, ObjectContent::from(data))
            .map_err(ObjectError::from_display)?
            .content_type(content_type.to_owned())
            .build();
        self.timed(request.send()).await?;
        Ok(())
    }

    /// An upload of an object of unknown size, sent in parts of `part_size` bytes
    /// (at least 5 MiB, the S3 minimum) once it grows past one part.
    pub fn upload(&self, bucket: &str, key: &str, content_type: &str, part_size: usize) -> Upload {
        Upload {
            store: self.clone(),
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            content_type: content_type.to_owned(),
            part_size: part_size.max(MIN_PART_SIZE),
            buf: BytesMut::new(),
            multipart: None,
            parts: Vec::new(),
            bytes: 0,
        }
    }

    /// A URL that reads the object without credentials until `expiry` passes.
    pub async fn presigned_get(
        &self,
        bucket: &str,
        key: &str,
        expiry: Duration,
    ) -> Result<String, ObjectError> {
        let request = self
            .client
            .get_presigned_object_url(bucket, key, http::Method::GET)
            .map_err(ObjectError::from_display)?
            .expiry_seconds(expiry.as_secs().clamp(1, 7 * 24 * 3600) as u32)
            .build();
        Ok(self.timed(request.send()).await?.url)
    }

    /// Reads a whole object.
    pub async fn get(&self, bucket: &str, key: &str) -> Result<Bytes, ObjectError> {
        let request = self
            .client
            .get_object(bucket, key)
            .map_err(ObjectError::from_display)?
            .build();
        let response = self.timed(request.send()).await?;
        self.timed(response.into_bytes()).await
    }

    /// Deletes an object (a missing one is not an error).
    pub async fn delete(&self, bucket: &str, key: &str) -> Result<(), ObjectError> {
        let request = self
            .client
            .delete_object(bucket, key)
            .map_err(ObjectError::from_display)?
            .build();
        self.timed(request.send()).await?;
        Ok(())
    }

    /// Keys of the objects under `prefix`.
    pub async fn list(&self, bucket: &str, prefix: &str) -> Result<Vec<String>, ObjectError> {
        let mut stream = self
            .client
            .list_objects(bucket)
            .map_err(ObjectError::from_display)?
            .prefix(Some(prefix.to_owned()))
            .recursive(true)
            .build()
            .to_stream()
            .await;
        let mut keys = Vec::new();
        while let Some(page) = stream.next().await {
            let page = page.map_err(ObjectError::from_display)?;
            keys.extend(page.contents.into_iter().map(|e| e.name));
        }
        Ok(keys)
    }

    /// Whether the store answers, for readiness.
    pub async fn ping(&self, bucket: &str) -> bool {
        match self.client.bucket_exists(bucket) {
            Ok(request) => self.timed(request.build().send()).await.is_ok(),
            Err(_) => false,
        }
    }
}

/// The smallest part S3 accepts (but for the last one).
pub const MIN_PART_SIZE: usize = 5 << 20;

/// An object being written. Small objects go in one request at [`Upload::finish`];
/// larger ones become a multipart upload. An upload dropped before `finish` (a client
/// that went away, an error) is aborted, so no object and no orphaned parts remain.
pub struct Upload {
    store: ObjectStore,
    bucket: String,
    key: String,
    content_type: String,
    part_size: usize,
    buf: BytesMut,
    multipart: Option<UploadId>,
    parts: Vec<PartInfo>,
    bytes: u64,
}

impl Upload {
    /// Bytes written so far.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Adds `data`, sending every full part.
    pub async fn write(&mut self, data: &[u8]) -> Result<(), ObjectError> {
        self.bytes += data.len() as u64;
        self.buf.extend_from_slice(data);
        while self.buf.len() >= self.part_size {
            let part = self.buf.split_to(self.part_size).freeze();
            self.send_part(part).await?;
        }
        Ok(())
    }

    async fn send_part(&mut self, part: Bytes) -> Result<(), ObjectError> {
        let id = match &self.multipart {
            Some(id) => id.clone(),
            None => {
                let request = self
                    .store
                    .client
                    .create_multipart_upload(self.bucket.as_str(), self.key.as_str())
                    .map_err(ObjectError::from_display)?
                    .content_type(self.content_type.clone())
                    .build();
                let created = self.store.timed(request.send()).await?;
                let id = created
                    .upload_id()
                    .await
                    .map_err(ObjectError::from_display)?;
                self.multipart.insert(id).clone()
            }
        };
        let number = self.parts.len() as u16 + 1;
        let size = part.len() as u64;
        let request = self
            .store
            .client
            .upload_part(
                self.bucket.as_str(),
                self.key.as_str(),
                id,
                number,
                SegmentedBytes::from(part),
            )
            .map_err(ObjectError::from_display)?
            .build();
        let sent = self.store.timed(request.send()).await?;
        let etag = sent.etag().map_err(ObjectError::from_display)?;
        self.parts.push(PartInfo::new(number, etag, size, None));
        Ok(())
    }

    /// Stores what was written; returns its size.
    pub async fn finish(mut self) -> Result<u64, ObjectError> {
        let rest = std::mem::take(&mut self.buf).freeze();
        let Some(id) = self.multipart.clone() else {
            let store = self.store.clone();
            store
                .put(&self.bucket, &self.key, rest, &self.content_type)
                .await?;
            return Ok(self.bytes);
        };
        if !rest.is_empty() {
            self.send_part(rest).await?;
        }
        let parts = std::mem::take(&mut self.parts);
        let request = self
            .store
            .client
            .complete_multipart_upload(self.bucket.as_str(), self.key.as_str(), id, parts)
            .map_err(ObjectError::from_display)?
            .build();
        self.store.timed(request.send()).await?;
        self.multipart = None;
        Ok(self.bytes)
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        let Some(id) = self.multipart.take() else {
            return;
        };
        let (store, bucket, key) = (
            self.store.clone(),
            std::mem::take(&mut self.bucket),
            std::mem::take(&mut self.key),
        );
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let aborted = match store.client.abort_multipart_upload(bucket.as_str(), key.as_str(), id) {
                    Ok(request) => store.timed(request.build().send()).await.map(|_| ()).map_err(|e| e.to_string()),
                    Err(e) => Err(e.to_string()),
                };
                if let Err(e) = aborted {
                    tracing::warn!(%bucket, %key, error = %e, "aborting an unfinished upload failed");
                }
            });
        }
    }
}
