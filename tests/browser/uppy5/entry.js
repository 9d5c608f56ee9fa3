// @uppy/core and @uppy/aws-s3 5.x, unmodified: the backend URL is `endpoint`.
import Uppy from '@uppy/core'
import AwsS3 from '@uppy/aws-s3'
import { install } from '../page.js'

install({
  major: 5,
  Uppy,
  AwsS3,
  options: ({ endpoint, chunkSize }) => ({
    endpoint,
    shouldUseMultipart: true,
    getChunkSize: () => chunkSize
  })
})
