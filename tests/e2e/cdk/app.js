// A CDK app with a Batch environment (an unmanaged compute environment, a job queue, an ECS job
// definition), synthesized offline by tests/e2e/test_cdk.py with `cdk synth` and deployed to batchemu.
// BootstraplessSynthesizer: the template needs no bootstrap stack (no BootstrapVersion parameter read from
// SSM, no CheckBootstrapVersion rule); the app has no file assets, the one thing that synthesizer refuses.
const cdk = require("aws-cdk-lib");
const batch = require("aws-cdk-lib/aws-batch");
const ecs = require("aws-cdk-lib/aws-ecs");

const app = new cdk.App({ analyticsReporting: false });
const stack = new cdk.Stack(app, "BatchEnvironment", {
  synthesizer: new cdk.BootstraplessSynthesizer(),
  env: { account: "123456789012", region: "us-east-1" },
});
const environment = new batch.UnmanagedComputeEnvironment(stack, "Compute", { unmanagedvCpus: 4 });
const queue = new batch.JobQueue(stack, "Queue", { priority: 10 });
queue.addComputeEnvironment(environment, 1);
const definition = new batch.EcsJobDefinition(stack, "Definition", {
  container: new batch.EcsEc2ContainerDefinition(stack, "Container", {
    image: ecs.ContainerImage.fromRegistry("busybox"),
    command: ["echo", "hello from cdk"],
    cpu: 1,
    memory: cdk.Size.mebibytes(512),
  }),
});
new cdk.CfnOutput(stack, "QueueArn", { value: queue.jobQueueArn });
new cdk.CfnOutput(stack, "DefinitionArn", { value: definition.jobDefinitionArn });
