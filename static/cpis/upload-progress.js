// The upload progress bar: polls the worker's progress and reloads the page when the upload
// moves on (checked → preview, applied → acknowledgement). Without JavaScript the page offers
// a refresh link instead.
const box = document.querySelector('[data-upload-progress]')

if (box) {
  const bar = box.querySelector('progress')
  const text = box.querySelector('[data-progress-text]')
  const startedAs = box.dataset.status
  let lastAnnounced = -1

  async function poll () {
    try {
      const response = await fetch(box.dataset.progressUrl, {
        credentials: 'same-origin',
        headers: { Accept: 'application/json' }
      })
      if (response.ok) {
        const progress = await response.json()
        if (progress.status !== startedAs) {
          window.location.reload()
          return
        }
        bar.value = progress.percent
        bar.textContent = progress.percent + '%'
        // Screen readers hear every 10%, not every second.
        if (Math.floor(progress.percent / 10) !== lastAnnounced) {
          lastAnnounced = Math.floor(progress.percent / 10)
          text.textContent = progress.phase + ': ' + progress.percent + '%'
        }
      }
    } catch (error) {
      // A dropped request is retried on the next tick.
    }
    window.setTimeout(poll, 1000)
  }

  window.setTimeout(poll, 500)
}
