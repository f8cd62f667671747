{{/* The master connection, as gen3-helm's jobs pass it. */}}
{{- define "gen3db.masterEnv" -}}
- name: PGHOST
  valueFrom:
    secretKeyRef:
      name: {{ .Values.global.postgres.masterSecret }}
      key: host
- name: PGPORT
  valueFrom:
    secretKeyRef:
      name: {{ .Values.global.postgres.masterSecret }}
      key: port
- name: PGUSER
  valueFrom:
    secretKeyRef:
      name: {{ .Values.global.postgres.masterSecret }}
      key: username
- name: PGPASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ .Values.global.postgres.masterSecret }}
      key: password
{{- end }}

{{/* One service's credentials from <service>-dbcreds. Call with
     (dict "service" NAME). */}}
{{- define "gen3db.serviceEnv" -}}
- name: SERVICE_PGDB
  valueFrom:
    secretKeyRef:
      name: {{ .service }}-dbcreds
      key: database
- name: SERVICE_PGUSER
  valueFrom:
    secretKeyRef:
      name: {{ .service }}-dbcreds
      key: username
- name: SERVICE_PGPASS
  valueFrom:
    secretKeyRef:
      name: {{ .service }}-dbcreds
      key: password
{{- end }}

{{/* BUCKET, ENVIRONMENT, VERSION and the AWS credentials file. */}}
{{- define "gen3db.s3Env" -}}
- name: BUCKET
  value: {{ .Values.global.dbRestoreBucket | quote }}
- name: ENVIRONMENT
  value: {{ .Values.global.environment | quote }}
- name: VERSION
  value: {{ .Values.restore.version | quote }}
- name: AWS_SHARED_CREDENTIALS_FILE
  value: /home/gen3db/.aws/credentials
{{- end }}

{{/* Elasticsearch as the guppy restore job passes it. */}}
{{- define "gen3db.esEnv" -}}
- name: ESHOST
  value: {{ .Values.restore.elasticsearch.host | quote }}
- name: GUPPY_INDICES
  value: {{ join "," .Values.restore.elasticsearch.indices | quote }}
- name: GUPPY_CONFIGINDEX
  value: {{ .Values.restore.elasticsearch.configIndex | quote }}
{{- end }}

{{- define "gen3db.containerSecurity" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: ["ALL"]
{{- end }}
