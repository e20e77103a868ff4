#ifdef __cplusplus
extern "C" {
#endif
void pm_set_num_threads(int n);
int pm_get_num_threads(void);
#ifdef __cplusplus
}
#endif
