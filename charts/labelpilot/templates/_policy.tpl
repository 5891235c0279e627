{{/*
The policy (docs/security.md) as one dict: policy.allow, the step ServiceAccount and
deadlines, and storage.pvc's claim when the chart creates it. The operator reads it as
policy.yaml (configmap-policy.yaml); admission-policy.yaml turns it into CEL.
*/}}
{{- define "labelpilot.policy" -}}
{{- $policy := deepCopy .Values.policy.allow -}}
{{- $claims := .Values.policy.allow.volumeClaims -}}
{{- if .Values.storage.pvc.create -}}
{{- $claims = append $claims .Values.storage.pvc.name | uniq -}}
{{- end -}}
{{- $_ := set $policy "volumeClaims" $claims -}}
{{- $_ := set $policy "stepServiceAccountName" .Values.steps.serviceAccount.name -}}
{{- $_ := set $policy "activeDeadlineSeconds" .Values.steps.activeDeadlineSeconds -}}
{{- toJson $policy -}}
{{- end -}}

{{/*
An allow-list as two CEL list literals (JSON is CEL here): {"names": "[...]", "prefixes":
"[...]"}. Entries ending in * are prefixes. With "urls", an entry without * also allows the
URL with a trailing slash and the paths below it (labelpilot.controller.policy.Patterns.of_urls).
*/}}
{{- define "labelpilot.celPatterns" -}}
{{- $names := list -}}
{{- $prefixes := list -}}
{{- range .entries -}}
{{- if hasSuffix "*" . -}}
{{- $prefixes = append $prefixes (trimSuffix "*" .) -}}
{{- else if $.urls -}}
{{- $base := trimSuffix "/" . -}}
{{- $names = append $names $base -}}
{{- $names = append $names (printf "%s/" $base) -}}
{{- $prefixes = append $prefixes (printf "%s/" $base) -}}
{{- else -}}
{{- $names = append $names . -}}
{{- end -}}
{{- end -}}
{{- dict "names" (toRawJson $names) "prefixes" (toRawJson $prefixes) | toJson -}}
{{- end -}}

{{/* The admission policy's and its binding's name: cluster-scoped, one per release. */}}
{{- define "labelpilot.admissionName" -}}
{{- printf "%s.%s.labelpilot.dev" (include "labelpilot.fullname" .) .Release.Namespace -}}
{{- end -}}

{{/* "has(object.spec.a) && has(object.spec.a.b)" for "object.spec.a.b". */}}
{{- define "labelpilot.celHas" -}}
{{- $parts := splitList "." (trimPrefix "object.spec." .) -}}
{{- $checks := list -}}
{{- $path := "object.spec" -}}
{{- range $parts -}}
{{- $path = printf "%s.%s" $path . -}}
{{- $checks = append $checks (printf "has(%s)" $path) -}}
{{- end -}}
{{- join " && " $checks -}}
{{- end -}}
