// The client's headers in one crossing into wasm (used by src/edge/api/request.rs): the text
// `domain::http::header_text` splits, `name \n value \n` for each header, names in lower case as
// the runtime iterates them.
export function headerText(headers) {
  let text = '';
  for (const [name, value] of headers) text += `${name}\n${value}\n`;
  return text;
}
