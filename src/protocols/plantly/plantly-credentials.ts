/** Email and password for the Plantly Sessions API's login. */
export interface PlantlyCredentials {
  email_address: string
  password: string
}
