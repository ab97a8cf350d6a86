// A folder upload sends only base names: send each file's path inside the folder alongside
// (searches/forms.py matches them to the uploads), so cam1/0001.jpg and cam2/0001.jpg stay apart.
document.addEventListener("change", (event) => {
  const input = event.target;
  if (!input.matches || !input.matches("input[type=file][webkitdirectory]")) return;
  const hidden = input.form && input.form.querySelector("input[name=folder_paths]");
  if (hidden) hidden.value = JSON.stringify(Array.from(input.files, (f) => f.webkitRelativePath || f.name));
});
