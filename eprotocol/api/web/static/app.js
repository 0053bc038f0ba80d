// eprotocol pages: drag-and-drop of files into the registration form, printing, and forms
// that take a number waiting for their answer.
// Everything works without this script; it only makes the form friendlier.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const zone = document.getElementById("dropzone");
  const input = document.getElementById("files");
  const list = document.getElementById("file-list");
  if (zone && input && list) {
    const show = () => {
      list.replaceChildren(...Array.from(input.files).map((file, i) => {
        const item = document.createElement("li");
        item.textContent = `${file.name} (${Math.ceil(file.size / 1024)} KB)${i === 0 ? " ★" : ""}`;
        return item;
      }));
    };
    input.addEventListener("change", show);
    ["dragenter", "dragover"].forEach((name) => zone.addEventListener(name, (event) => {
      event.preventDefault();
      zone.classList.add("over");
    }));
    ["dragleave", "drop"].forEach((name) => zone.addEventListener(name, () => zone.classList.remove("over")));
    zone.addEventListener("drop", (event) => {
      event.preventDefault();
      const files = new DataTransfer();
      Array.from(input.files).concat(Array.from(event.dataTransfer.files)).forEach((f) => files.items.add(f));
      input.files = files.files;
      input.dispatchEvent(new Event("change", { bubbles: true }));
    });
  }
  // Files larger together than the server takes are not sent: it would refuse them only
  // after the whole upload, and what was typed in the form would be lost.
  document.querySelectorAll("form[data-max-mb]").forEach((form) => {
    const limit = Number(form.dataset.maxMb) * 1024 * 1024;
    const warning = form.querySelector("[data-too-large-warning]");
    const fits = () => {
      const bytes = Array.from(form.querySelectorAll("input[type=file]"))
        .flatMap((field) => Array.from(field.files))
        .reduce((sum, file) => sum + file.size, 0);
      warning.hidden = bytes <= limit;
      warning.textContent = form.dataset.tooLarge.replace("{mb}", Math.ceil(bytes / 1024 / 1024));
      return bytes <= limit;
    };
    form.addEventListener("change", fits);
    form.addEventListener("submit", (event) => {  // before the listener that disables the button
      if (!fits()) {
        event.preventDefault();
        event.stopImmediatePropagation();
        warning.focus();
      }
    });
  });
  document.querySelectorAll("[data-print]").forEach((button) => button.addEventListener("click", () => window.print()));
  // A form that takes a protocol number waits for its answer with its button disabled, so a
  // second click does not look needed (the server registers a form sent twice once anyway).
  const numbering = document.querySelectorAll("form[data-numbers]");
  numbering.forEach((form) => form.addEventListener("submit", () => {
    setTimeout(() => {  // after the click that sends it has counted
      form.querySelector("button[type=submit]").disabled = true;
      form.setAttribute("aria-busy", "true");
    }, 0);
  }));
  window.addEventListener("pageshow", () => numbering.forEach((form) => {  // back from the answer
    form.querySelector("button[type=submit]").disabled = false;
    form.removeAttribute("aria-busy");
  }));
});
