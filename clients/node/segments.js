#!/usr/bin/env node
// A finseg client in Node.js, as a user in another language writes one:
// @grpc/grpc-js with the .proto files loaded at run time by
// @grpc/proto-loader, and default channel options (a 4 MiB receive limit).
//
//   FINSEG_TOKEN=<jwt> node segments.js <host:port> '<SegmentSpec as JSON>' [page_size]
//
// Creates the segment, waits for it, pages through it with GetSegment and
// next_page_token, streams it with StreamSegment, then sends a bad request
// and decodes its google.rpc.BadRequest from the grpc-status-details-bin
// trailer. Prints one JSON object with what it saw.

"use strict";

const path = require("node:path");
const grpc = require("@grpc/grpc-js");
const protoLoader = require("@grpc/proto-loader");
const protobuf = require("protobufjs");

const PROTOS = path.resolve(__dirname, "..", "..", "protos");
// google.rpc.Status and its details, as published in googleapis.
const RPC_PROTOS = path.resolve(__dirname, "protos");

const definition = protoLoader.loadSync("finseg/v1/segments.proto", {
  includeDirs: [PROTOS],
  keepCase: true,
  longs: String, // int64 as decimal strings: no precision lost
  enums: String,
  defaults: true,
  oneofs: true,
});
const finseg = grpc.loadPackageDefinition(definition).finseg.v1;

const rpc = new protobuf.Root();
rpc.resolvePath = (_origin, target) =>
  target.startsWith("google/protobuf/") ? target : path.join(RPC_PROTOS, target);
rpc.loadSync(["google/rpc/status.proto", "google/rpc/error_details.proto"],
  { keepCase: true });
const Status = rpc.lookupType("google.rpc.Status");
const BadRequest = rpc.lookupType("google.rpc.BadRequest");

function call(client, method, request, metadata) {
  return new Promise((resolve, reject) => {
    const deadline = new Date(Date.now() + 60_000);
    client[method](request, metadata, { deadline }, (error, response) =>
      error ? reject(error) : resolve(response));
  });
}

function members(page) {
  return page && page.rows ? page[page.rows].members : [];
}

// The violations of a failed call: its google.rpc.Status travels, serialized,
// in the grpc-status-details-bin trailer.
function violations(error) {
  const [raw] = error.metadata.get("grpc-status-details-bin");
  if (!raw) return null;
  const status = Status.decode(raw);
  const out = [];
  for (const detail of status.details) {
    if (detail.type_url === "type.googleapis.com/google.rpc.BadRequest") {
      const bad = BadRequest.decode(detail.value);
      for (const v of bad.field_violations) out.push({ field: v.field, description: v.description });
    }
  }
  return { code: status.code, message: status.message, violations: out };
}

async function main() {
  const [target, specJson, pageSizeArg] = process.argv.slice(2);
  const pageSize = Number(pageSizeArg || 0);
  const client = new finseg.SegmentService(target, grpc.credentials.createInsecure());
  const metadata = new grpc.Metadata();
  if (process.env.FINSEG_TOKEN) metadata.set("authorization", `Bearer ${process.env.FINSEG_TOKEN}`);

  const created = await call(client, "CreateSegment", { spec: JSON.parse(specJson) }, metadata);
  const id = created.segment.segment_id;

  // GetSegment until the job ends; its SUCCEEDED answer holds the first page.
  let response;
  for (;;) {
    response = await call(client, "GetSegment", { segment_id: id, page_size: pageSize }, metadata);
    if (!["JOB_STATE_PENDING", "JOB_STATE_RUNNING"].includes(response.segment.state)) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const result = {
    segment_id: id,
    state: response.segment.state,
    total_elements: response.segment.total_elements,
    total_pages: response.total_pages,
    get: { page_sizes: [], users: [] },
    stream: { page_sizes: [], page_indexes: [], users: [] },
  };
  for (;;) {
    const page = members(response.page);
    result.get.page_sizes.push(page.length);
    for (const m of page) result.get.users.push(m.user_id);
    if (!response.next_page_token) break;
    response = await call(client, "GetSegment",
      { segment_id: id, page_size: pageSize, page_token: response.next_page_token }, metadata);
  }

  const stream = client.StreamSegment({ segment_id: id, page_size: pageSize }, metadata,
    { deadline: new Date(Date.now() + 120_000) });
  for await (const message of stream) {
    const page = members(message.page);
    result.stream.page_sizes.push(page.length);
    result.stream.page_indexes.push(Number(message.page_index));
    for (const m of page) result.stream.users.push(m.user_id);
  }

  try {
    await call(client, "CreateSegment",
      { spec: { low_balance: { threshold: { currency: "EUR", amount: "0" }, months: 0 } } },
      metadata);
    result.bad_request = null;
  } catch (error) {
    result.bad_request = { grpc_code: error.code, ...violations(error) };
  }
  client.close();
  process.stdout.write(JSON.stringify(result) + "\n");
}

main().catch((error) => {
  process.stderr.write(`${error.stack || error}\n`);
  process.exit(1);
});
