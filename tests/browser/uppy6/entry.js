// @uppy/core and @uppy/aws-s3 6.x, unmodified: the backend URL is `companionEndpoint`.
import Uppy from '@uppy/core'
import AwsS3 from '@uppy/aws-s3'
import { install } from '../page.js'

install({
  major: 6,
  Uppy,
  AwsS3,
  options: ({ endpoint, chunkSize }) => ({
    companionEndpoint: endpoint,
    shouldUseMultipart: true,
    getChunkSize: () => chunkSize
  })
})
