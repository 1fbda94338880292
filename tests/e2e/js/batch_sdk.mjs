// The AWS SDK for JavaScript v3 against batchemu: creates a compute environment, a queue and a job
// definition, submits a job, waits for SUCCEEDED and lists it. Prints one JSON line of what it saw.
// Env: BATCHEMU_ENDPOINT, BATCHEMU_NODE_MODULES (where scripts/setup-browser installed the packages).
import { createRequire } from "node:module";

const require = createRequire(process.env.BATCHEMU_NODE_MODULES + "/");
const {
  BatchClient,
  CreateComputeEnvironmentCommand,
  CreateJobQueueCommand,
  RegisterJobDefinitionCommand,
  SubmitJobCommand,
  DescribeJobsCommand,
  ListJobsCommand,
} = require("@aws-sdk/client-batch");

const batch = new BatchClient({
  endpoint: process.env.BATCHEMU_ENDPOINT,
  region: "us-east-1",
  credentials: { accessKeyId: "testing", secretAccessKey: "testing" },
  maxAttempts: 1,
});

await batch.send(new CreateComputeEnvironmentCommand({
  computeEnvironmentName: "js-ce",
  type: "MANAGED",
  computeResources: {
    type: "EC2", minvCpus: 0, maxvCpus: 4, instanceTypes: ["optimal"],
    subnets: ["subnet-1"], securityGroupIds: ["sg-1"], instanceRole: "ecsInstanceRole",
  },
}));
await batch.send(new CreateJobQueueCommand({
  jobQueueName: "js-q", priority: 1, computeEnvironmentOrder: [{ order: 1, computeEnvironment: "js-ce" }],
}));
const definition = await batch.send(new RegisterJobDefinitionCommand({
  jobDefinitionName: "js-jd",
  type: "container",
  containerProperties: {
    image: "busybox",
    command: ["echo", "Ref::greeting"],
    resourceRequirements: [{ type: "VCPU", value: "1" }, { type: "MEMORY", value: "512" }],
  },
}));
const submitted = await batch.send(new SubmitJobCommand({
  jobName: "js-job", jobQueue: "js-q", jobDefinition: definition.jobDefinitionArn,
  parameters: { greeting: "hello-from-node" },
}));

let job;
const deadline = Date.now() + 60000;
while (Date.now() < deadline) {
  [job] = (await batch.send(new DescribeJobsCommand({ jobs: [submitted.jobId] }))).jobs;
  if (job.status === "SUCCEEDED" || job.status === "FAILED") break;
  await new Promise((resolve) => setTimeout(resolve, 100));
}
const listed = await batch.send(new ListJobsCommand({ jobQueue: "js-q", jobStatus: "SUCCEEDED" }));
console.log(JSON.stringify({
  jobId: submitted.jobId,
  status: job.status,
  exitCode: job.attempts?.[0]?.container?.exitCode,
  createdAtIsNumber: typeof job.createdAt === "number",
  listed: listed.jobSummaryList.map((summary) => summary.jobId),
  revision: definition.revision,
}));
