//! Creating the object-storage buckets the pipeline needs.

use friction_schema::topics::BUCKETS;
use friction_service::config::S3Config;
use minio::s3::types::S3Api;

/// Creating buckets failed.
#[derive(Debug, thiserror::Error)]
#[error("object storage: {0}")]
pub struct BucketError(String);

/// Creates every bucket that does not exist yet; returns those it created.
pub async fn ensure(s3: &S3Config) -> Result<Vec<&'static str>, BucketError> {
    let client = s3.client().map_err(|e| BucketError(e.to_string()))?;
    let mut created = Vec::new();
    for bucket in BUCKETS {
        let exists = client
            .bucket_exists(bucket)
            .map_err(|e| BucketError(e.to_string()))?
            .build()
            .send()
            .await
            .map_err(|e| BucketError(format!("{bucket}: {e}")))?
            .exists();
        if !exists {
            client
                .create_bucket(bucket)
                .map_err(|e| BucketError(e.to_string()))?
                .build()
                .send()
                .await
                .map_err(|e| BucketError(format!("{bucket}: {e}")))?;
            created.push(bucket);
        }
    }
    Ok(created)
}
