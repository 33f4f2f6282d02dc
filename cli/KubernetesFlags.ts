import { Options } from "@effect/cli"
import { Option } from "effect"
import type { KubernetesOptions } from "../runtime/launcher/KubernetesOptions.ts"
import { defaults } from "../runtime/RunOptions.ts"
import * as OptionValues from "./OptionValues.ts"

const optionalText = (name: string, description: string) =>
  OptionValues.text(["run"], name).pipe(Options.optional, Options.map(Option.getOrUndefined), Options.withDescription(description))

const k8s = defaults.kubernetes

/** `zephyr run`'s flags for backend kubernetes (runtime/launcher/KubernetesOptions.ts checks them). */
export const options = {
  k8sImage: optionalText("k8s-image", "backend kubernetes: the image worker pods run (required); it holds this project at the driver's path"),
  k8sNamespace: optionalText("k8s-namespace", "backend kubernetes: the namespace (default: the kubeconfig context's, in a pod its own)"),
  k8sCoordinatorAddress: optionalText("k8s-coordinator-address", "backend kubernetes: HOST:PORT at which pods reach this driver's --listen address"),
  k8sDriverSelector: optionalText("k8s-driver-selector", "backend kubernetes, driver in a pod: that pod's labels, k=v[,k=v]; a Service selecting it fronts the coordinator"),
  k8sCpu: optionalText("k8s-cpu", `backend kubernetes: CPU per worker pod, requested and limited (default ${k8s.cpu})`),
  k8sMemory: optionalText("k8s-memory", `backend kubernetes: memory per worker pod, requested and limited, e.g. 1Gi (default: the worker's heap + ${k8s.memoryHeadroomMiB}Mi)`),
  k8sServiceAccount: optionalText("k8s-service-account", "backend kubernetes: the service account of the worker pods"),
  k8sImagePullPolicy: optionalText("k8s-image-pull-policy", "backend kubernetes: Always, IfNotPresent or Never"),
  k8sLabels: optionalText("k8s-labels", "backend kubernetes: extra labels on the Job, its pods, Secret and Service, k=v[,k=v]"),
  k8sVolumes: optionalText("k8s-volumes", "backend kubernetes: PersistentVolumeClaims the pods mount, claim:/path[,claim:/path] (the chunk directory's, say)"),
  k8sCommand: optionalText("k8s-command", `backend kubernetes: what runs zephyr in the image (default "${k8s.command.join(" ")}")`),
  k8sWorkingDir: optionalText("k8s-working-dir", "backend kubernetes: the workers' working directory (default: the driver's)")
}

type Flags = { readonly [K in keyof typeof options]: string | undefined }

/** The `kubernetes` run option from the flags given (undefined when none was). */
export const toRunOption = (o: Flags): KubernetesOptions | undefined => {
  const given = Object.fromEntries(Object.entries({
    image: o.k8sImage,
    namespace: o.k8sNamespace,
    coordinatorAddress: o.k8sCoordinatorAddress,
    driverSelector: o.k8sDriverSelector,
    cpu: o.k8sCpu,
    memory: o.k8sMemory,
    serviceAccount: o.k8sServiceAccount,
    imagePullPolicy: o.k8sImagePullPolicy,
    labels: o.k8sLabels,
    volumes: o.k8sVolumes,
    command: o.k8sCommand,
    workingDir: o.k8sWorkingDir
  }).filter(([, v]) => v !== undefined)) as KubernetesOptions
  return Object.keys(given).length > 0 ? given : undefined
}
