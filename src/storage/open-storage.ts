import { FolderStorage } from './folder-storage.js'
import { isS3Url, type S3Options } from './s3-location.js'
import type { Storage } from './storage.js'

/**
 * The storage behind a backup location: `s3://bucket/prefix` or a folder path. The S3 client (the AWS SDK, a few
 * megabytes of code) loads only here, for commands that touch a bucket.
 */
export async function openStorage(location: string, s3: S3Options = {}): Promise<Storage> {
  if (!isS3Url(location)) return new FolderStorage(location)
  const { S3Storage } = await import('./s3-storage.js')
  return S3Storage.open(location, s3)
}
