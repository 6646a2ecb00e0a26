{{- define "parley.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "parley.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "parley.selectorLabels" -}}
app.kubernetes.io/name: {{ include "parley.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "parley.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "parley.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* The gateway pods (not the migrations Job): what the Services, PDB, ClusterSPIFFEID select. */}}
{{- define "parley.gatewaySelector" -}}
{{ include "parley.selectorLabels" . }}
app.kubernetes.io/component: gateway
{{- end -}}

{{- define "parley.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "parley.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "parley.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "parley.trustDomain" -}}
{{- required "trustDomain is required (our SPIFFE trust domain, e.g. acme.example)" .Values.trustDomain -}}
{{- end -}}

{{- define "parley.spiffeId" -}}
{{- default (printf "spiffe://%s/parley/gateway" (include "parley.trustDomain" .)) .Values.spiffeId -}}
{{- end -}}

{{- define "parley.socketDir" -}}/spiffe-workload-api{{- end -}}

{{/* The Services' in-cluster DNS names: in the gateway's SVID for stock gRPC clients. */}}
{{- define "parley.dnsNames" -}}
{{- $ns := .Release.Namespace -}}
{{- $names := list -}}
{{- range $svc := list (printf "%s-grpc" (include "parley.fullname" .)) (printf "%s-internal" (include "parley.fullname" .)) -}}
{{- $names = concat $names (list $svc (printf "%s.%s" $svc $ns) (printf "%s.%s.svc" $svc $ns) (printf "%s.%s.svc.cluster.local" $svc $ns)) -}}
{{- end -}}
{{- toYaml (concat $names .Values.spire.clusterSPIFFEID.extraDnsNameTemplates) -}}
{{- end -}}

{{/*
Parley's federation relationships, from the same partner list as the ClusterFederatedTrustDomains.
*/}}
{{- define "parley.relationships" -}}
{{- $out := list -}}
{{- range $i, $p := .Values.partners -}}
{{- $td := required (printf "partners[%d].trustDomain is required" $i) $p.trustDomain -}}
{{- $url := required (printf "partners[%d].bundleEndpointURL is required" $i) $p.bundleEndpointURL -}}
{{- $profile := required (printf "partners[%d].bundleEndpointProfile is required" $i) $p.bundleEndpointProfile -}}
{{- $type := required (printf "partners[%d].bundleEndpointProfile.type is required (https_spiffe or https_web)" $i) $profile.type -}}
{{- $rel := dict "trustDomain" $td "profile" $type "endpointUrls" (list $url) -}}
{{- if eq $type "https_spiffe" -}}
{{- $_ := set $rel "endpointSpiffeId" (required (printf "partners[%d].bundleEndpointProfile.endpointSPIFFEID is required for https_spiffe" $i) $profile.endpointSPIFFEID) -}}
{{- $_ := set $rel "bootstrapBundle" (required (printf "partners[%d].trustDomainBundle is required for https_spiffe (Parley's bootstrap bundle)" $i) $p.trustDomainBundle) -}}
{{- else if ne $type "https_web" -}}
{{- fail (printf "partners[%d].bundleEndpointProfile.type must be https_spiffe or https_web, not %s" $i $type) -}}
{{- end -}}
{{- $out = append $out $rel -}}
{{- end -}}
{{- toYaml $out -}}
{{- end -}}

{{/* The gateway's configuration file: values.config under what the chart must set. */}}
{{- define "parley.config" -}}
{{- $admins := .Values.admins | default (list (printf "spiffe://%s/parley/admin" (include "parley.trustDomain" .))) -}}
{{- $chart := dict
  "dataDir" "/var/lib/parley"
  "database" (dict "migrationsRun" (not .Values.migrations.enabled))
  "identity" (dict
    "trustDomain" (include "parley.trustDomain" .)
    "source" "workload-api"
    "spiffeId" (include "parley.spiffeId" .)
    "workloadApi" (dict "address" (printf "unix://%s/%s" (include "parley.socketDir" .) .Values.spire.socket.name)))
  "grpc" (dict "host" "0.0.0.0" "port" (int .Values.ports.grpc))
  "admin" (dict "host" "0.0.0.0" "port" (int .Values.ports.admin) "admins" $admins)
  "ops" (dict "enabled" true "host" "0.0.0.0" "port" (int .Values.ports.ops))
  "federation" (dict
    "bundleEndpoint" (dict "enabled" .Values.bundleEndpoint.enabled "host" "0.0.0.0" "port" (int .Values.ports.bundleEndpoint) "profile" .Values.bundleEndpoint.profile)
    "relationships" (include "parley.relationships" . | fromYamlArray))
-}}
{{- toYaml (mustMergeOverwrite (deepCopy (.Values.config | default dict)) $chart) -}}
{{- end -}}
