/** Where an S3-compatible bucket is and how to talk to it; credentials come from the AWS chain, never from here. */
export interface S3Options {
  /** e.g. `http://127.0.0.1:9000` for MinIO, `https://<account>.r2.cloudflarestorage.com` for R2. */
  endpoint?: string
  region?: string
  /** Path-style addressing (`endpoint/bucket/key`), which most non-AWS stores need. */
  forcePathStyle?: boolean
}

export interface S3Location {
  bucket: string
  /** Key prefix without leading or trailing slash; '' for the bucket's root. */
  prefix: string
}

export function isS3Url(location: string): boolean {
  return /^s3:\/\//i.test(location)
}

/** Parses `s3://bucket/some/prefix`; a credential in the URL is refused so it cannot leak into manifests or output. */
export function parseS3Url(url: string): S3Location {
  const match = /^s3:\/\/([^/]*)(?:\/(.*))?$/i.exec(url)
  if (!match || !match[1]) throw new Error(`${url} is not an S3 location: write s3://bucket or s3://bucket/prefix`)
  if (match[1].includes('@') || match[1].includes(':')) {
    throw new Error(
      'an S3 location takes no credentials: write s3://bucket/prefix and give credentials through the AWS environment or profile',
    )
  }
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(match[1])) {
    throw new Error(`s3://${match[1]}: not a valid bucket name (3-63 lowercase letters, digits, dots and hyphens)`)
  }
  return { bucket: match[1], prefix: (match[2] ?? '').replace(/^\/+|\/+$/g, '') }
}

export function formatS3Url(location: S3Location): string {
  return `s3://${location.bucket}${location.prefix ? `/${location.prefix}` : ''}`
}
