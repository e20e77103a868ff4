package store

import "testing"

// SetAzurePageSize lowers the listing page size for one test.
func SetAzurePageSize(t *testing.T, n int32) {
	old := azurePageSize
	azurePageSize = n
	t.Cleanup(func() { azurePageSize = old })
}
