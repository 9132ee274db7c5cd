// "Copy" buttons (the one-time API token): the browser's own clipboard, no library. The button
// is hidden until this script runs, so without JavaScript nobody is offered one that does nothing.
for (const button of document.querySelectorAll('[data-copy-target]')) {
  const target = document.getElementById(button.dataset.copyTarget)
  const status = document.getElementById(button.dataset.copyStatus)
  if (!target) continue
  button.hidden = false
  button.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(target.textContent.trim())
      if (status) status.textContent = 'Copied to the clipboard.'
    } catch (error) {
      // No clipboard permission (an old browser, an insecure origin): select it for Ctrl+C.
      window.getSelection().selectAllChildren(target)
      if (status) status.textContent = 'Selected: press Ctrl+C (or Cmd+C) to copy it.'
    }
  })
}
