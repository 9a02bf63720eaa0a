// Where the console finds Parley. Empty strings mean "the origin that served this page":
//   api: "" -> location.origin (REST under /v1)
//   ws:  "" -> ws(s)://location.host/ws
// A deployment that hosts these files elsewhere (e.g. S3 + CloudFront) replaces this one file, e.g.
//   window.PARLEY_CONFIG = {api: "https://abc.execute-api.eu-west-1.amazonaws.com/api",
//                           ws: "wss://def.execute-api.eu-west-1.amazonaws.com/ws"};
window.PARLEY_CONFIG = window.PARLEY_CONFIG || {api: "", ws: ""};
