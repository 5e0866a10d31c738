#!/bin/bash
# Without cert-manager: makes a self-signed CA and a serving certificate for the webhook Service,
# stores them in the Secret colo-webhook-tls and puts the CA into the MutatingWebhookConfiguration.
# Run after applying the manifests; re-run to rotate (then restart the webhook Deployment).
# Needs openssl and kubectl.
set -euo pipefail
NS=colo-system
SVC=colo-webhook
DAYS=${DAYS:-365}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days "$DAYS" \
        -subj "/CN=colo-webhook-ca" -keyout "$dir/ca.key" -out "$dir/ca.crt" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=$SVC.$NS.svc" \
        -keyout "$dir/tls.key" -out "$dir/tls.csr" 2>/dev/null
printf 'subjectAltName=DNS:%s.%s.svc,DNS:%s.%s.svc.cluster.local\n' "$SVC" "$NS" "$SVC" "$NS" > "$dir/ext"
openssl x509 -req -in "$dir/tls.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -CAcreateserial -days "$DAYS" \
        -extfile "$dir/ext" -out "$dir/tls.crt" 2>/dev/null

kubectl -n "$NS" create secret tls colo-webhook-tls --cert "$dir/tls.crt" --key "$dir/tls.key" \
        --dry-run=client -o yaml | kubectl apply -f -
kubectl patch mutatingwebhookconfiguration colo --type=json \
        -p "[{\"op\":\"add\",\"path\":\"/webhooks/0/clientConfig/caBundle\",\"value\":\"$(base64 -w0 < "$dir/ca.crt")\"}]"
echo "colo-webhook-tls created and caBundle set; restart with: kubectl -n $NS rollout restart deploy/colo-webhook"
