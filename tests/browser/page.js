// The test page's code, shared by every Uppy major: each entry passes in its own Uppy, AwsS3
// and plugin options. window.upload(cfg) uploads the bytes at cfg.dataUrl through Uppy and
// resolves with what happened; window.state shows it while it runs.

export function install ({ major, Uppy, AwsS3, options }) {
  const state = { status: 'idle', error: null, parts: 0, events: [] }
  window.state = state

  window.upload = async ({ endpoint, dataUrl, name, type, chunkSize }) => {
    state.status = 'running'
    const uppy = new Uppy({ autoProceed: false })
    uppy.use(AwsS3, options({ endpoint, chunkSize }))
    uppy.on('s3-multipart:part-uploaded', () => { state.parts += 1 })
    uppy.on('upload-error', (file, error) => {
      state.events.push(`upload-error: ${error && error.message}`)
    })
    const data = await (await fetch(dataUrl)).blob()
    uppy.addFile({ name, type, data: new File([data], name, { type }), source: 'test' })
    try {
      const result = await uppy.upload()
      const failed = (result && result.failed) || []
      if (failed.length) {
        state.status = 'error'
        state.error = String(failed[0].error && (failed[0].error.message || failed[0].error))
      } else {
        state.status = 'success'
        state.key = result.successful[0].response.body.key
      }
    } catch (error) {
      state.status = 'error'
      state.error = String(error && (error.message || error))
    }
    return state
  }

  window.uppyInfo = { major, core: Uppy.VERSION, awsS3: AwsS3.VERSION }
  document.title = `uppy ${major} ready`
}
